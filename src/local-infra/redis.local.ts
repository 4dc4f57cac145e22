// Redis nodes: reuse any node that answers PING, else start a throw-away one (no persistence) whose files
// live in <state dir>/redis-<port> (see paths.ts). Only nodes with a live pidfile of ours are ever stopped.
import { mkdirSync } from 'node:fs';
import { Redis } from 'ioredis';
import { redisNodePaths } from './paths.ts';
import {
  commandOutputOf,
  livePidFromFile,
  removeFile,
  runCommand,
  tailOfFile,
  terminateProcess,
} from './process.local.ts';
import {
  isLoopbackHost,
  ServiceError,
  type ServiceStatus,
  type StartResult,
  type StopResult,
} from './service-result.ts';
import { isPortOpen, waitUntil } from './wait.ts';

const connectTimeoutMs = 500;
const startTimeoutMs = 10_000;
const readyTimeoutMs = 10_000;
const stopGraceMs = 10_000;
const killWaitMs = 5_000;
const localHost = '127.0.0.1';

export interface RedisNode {
  url: string;
  host: string;
  port: number;
  address: string;
}

export function redisNode(url: string): RedisNode {
  const parsed = new URL(url);
  const port = parsed.port === '' ? 6379 : Number(parsed.port);
  return { url, host: parsed.hostname, port, address: `${parsed.hostname}:${port}` };
}

/** One short-lived connection: no retries and no offline queue, so a dead node fails fast instead of hanging. */
export async function withRedis<T>(url: string, work: (client: Redis) => Promise<T>): Promise<T> {
  const client = new Redis(url, {
    lazyConnect: true,
    connectTimeout: connectTimeoutMs,
    commandTimeout: 2_000,
    // ioredis otherwise keeps a 2 s timer after disconnect(), which holds every CLI run open for 2 s.
    disconnectTimeout: 200,
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
    retryStrategy: () => null,
  });
  client.on('error', () => undefined);
  try {
    await client.connect();
    return await work(client);
  } finally {
    client.disconnect();
  }
}

export async function pingRedis(url: string): Promise<boolean> {
  try {
    await withRedis(url, (client) => client.ping());
    return true;
  } catch {
    return false;
  }
}

/**
 * BullMQ needs `noeviction`: with any other policy Redis may drop job keys under memory pressure. The
 * setting is runtime-only, so every `services:up` applies it again.
 */
export async function setNoEviction(url: string): Promise<void> {
  await withRedis(url, (client) => client.config('SET', 'maxmemory-policy', 'noeviction'));
}

/** Reuses a node that answers on `url`; otherwise starts one, if the address is on this machine. */
export async function ensureRedisNode(url: string): Promise<StartResult> {
  const node = redisNode(url);
  if (await pingRedis(url)) return reusedResult(redisNodePaths(node.port));
  if (!isLoopbackHost(node.host)) {
    throw new ServiceError(`redis ${node.address}`, 'does not answer PING, and it is not on this machine');
  }
  return startRedisNode(node.port);
}

function reusedResult(paths: RedisNodeFiles): StartResult {
  const pid = livePidFromFile(paths.pidFile, 'redis-server');
  return pid === undefined ? { action: 'reused', detail: 'not ours' } : { action: 'reused', pid, detail: 'ours' };
}

/** Where a node of ours keeps its files: its directory (its working directory too), pidfile and log. */
export interface RedisNodeFiles {
  dir: string;
  pidFile: string;
  logFile: string;
}

export interface StartRedisNodeOptions {
  /** Default: `redisNodePaths(port)` in the machine-wide state directory. */
  paths?: RedisNodeFiles;
  /** More redis-server options, such as cluster mode's. */
  extraArgs?: string[];
}

/** Starts our node on 127.0.0.1:`port` unless one answers already; resolves once it answers PING. */
export async function startRedisNode(port: number, options: StartRedisNodeOptions = {}): Promise<StartResult> {
  const url = `redis://${localHost}:${port}`;
  const paths = options.paths ?? redisNodePaths(port);
  if (await pingRedis(url)) return reusedResult(paths);
  mkdirSync(paths.dir, { recursive: true });
  const service = `redis ${localHost}:${port}`;
  // --save "" and --appendonly no: these nodes hold locks and test queues, never data worth keeping.
  const args = ['--daemonize', 'yes', '--bind', localHost, '--port', String(port), '--save', '', '--appendonly', 'no'];
  args.push('--dir', paths.dir, '--logfile', paths.logFile, '--pidfile', paths.pidFile, ...(options.extraArgs ?? []));
  try {
    await runCommand('redis-server', args, { timeoutMs: startTimeoutMs });
  } catch (error) {
    throw new ServiceError(service, `redis-server: ${(error as Error).message}`, commandOutputOf(error));
  }
  await waitUntil(() => pingRedis(url), {
    description: 'waiting for PING',
    timeoutMs: readyTimeoutMs,
    intervalMs: 50,
  }).catch((error: unknown) => {
    throw new ServiceError(service, (error as Error).message, tailOfFile(paths.logFile, 20));
  });
  const pid = livePidFromFile(paths.pidFile, 'redis-server');
  return pid === undefined ? { action: 'started' } : { action: 'started', pid };
}

/**
 * Stops our node on `port` (SIGTERM, then SIGKILL after a bounded grace) and waits until it is gone.
 * A node that answers without a live pidfile of ours is not ours: with `requireOurs` (the default, for
 * tests) that throws; otherwise the result says `not-ours` and the node keeps running.
 */
export async function stopRedisNode(
  port: number,
  options: { requireOurs?: boolean; paths?: RedisNodeFiles } = {},
): Promise<StopResult> {
  const paths = options.paths ?? redisNodePaths(port);
  const pid = livePidFromFile(paths.pidFile, 'redis-server');
  if (pid === undefined) {
    removeFile(paths.pidFile);
    if (!(await isPortOpen(localHost, port))) return { action: 'not-running' };
    if (options.requireOurs ?? true) {
      throw new ServiceError(
        `redis ${localHost}:${port}`,
        'answers, but services:up did not start it; not stopping it',
      );
    }
    return { action: 'not-ours' };
  }
  const action = await terminateProcess(pid, { graceMs: stopGraceMs, killWaitMs });
  removeFile(paths.pidFile);
  return { action, pid };
}

export async function redisNodeStatus(url: string): Promise<ServiceStatus> {
  const node = redisNode(url);
  const pid = livePidFromFile(redisNodePaths(node.port).pidFile, 'redis-server');
  const base = { service: 'redis', address: node.address, up: await pingRedis(url) };
  return pid === undefined ? { ...base, ours: false } : { ...base, ours: true, pid };
}

export async function maxMemoryPolicy(url: string): Promise<string | undefined> {
  try {
    const reply = await withRedis(url, (client) => client.config('GET', 'maxmemory-policy'));
    return Array.isArray(reply) ? String(reply[1]) : undefined;
  } catch {
    return undefined;
  }
}
