// ioredis connections. BullMQ needs maxRetriesPerRequest: null on its connections. BullMQ's
// connection is one Redis node (REDIS_URL) or a Redis Cluster (REDIS_CLUSTER_NODES); Redlock always
// has its own independent nodes.
import { Cluster, Redis, type RedisOptions } from 'ioredis';
import type { Logger } from './logger.ts';
import { outages } from './outage.ts';

export { Cluster, Redis };

/** BullMQ's connection: a node or a cluster. Both take the same commands and Lua scripts. */
export type RedisClient = Redis | Cluster;

/** The outage-log name of each client this module made, for redisDependencyOf. */
const dependencyNames = new WeakMap<RedisClient, string>();

/** The name a Redis node goes by in outage logs, /ready and /health: "redis 127.0.0.1:6379". */
export function redisDependency(url: string): string {
  const parsed = new URL(url);
  return `redis ${parsed.hostname}:${parsed.port || '6379'}`;
}

export function createRedis(url: string, options: RedisOptions = {}): Redis {
  const client = new Redis(url, {
    connectTimeout: 2_000,
    maxRetriesPerRequest: null,
    enableReadyCheck: true,
    retryStrategy: (times) => Math.min(times * 100, 2_000),
    ...options,
  });
  // ioredis reconnects by itself; without a listener each failed attempt prints a stack (and an
  // 'error' event without a listener would crash the process). The outage log says it once.
  const dependency = redisDependency(url);
  dependencyNames.set(client, dependency);
  client.on('error', (error: unknown) => outages.down(dependency, error));
  client.on('ready', () => outages.up(dependency));
  return client;
}

/** The name a cluster goes by in outage logs, /ready and /health: "redis cluster 127.0.0.1:7300+5". */
export function redisClusterDependency(urls: readonly string[]): string {
  const [first] = urls;
  if (first === undefined) throw new Error('a Redis Cluster needs at least one node');
  const seed = redisDependency(first).slice('redis '.length);
  return `redis cluster ${seed}${urls.length > 1 ? `+${urls.length - 1}` : ''}`;
}

/**
 * A Redis Cluster client seeded with `urls` (it discovers the other nodes), for BullMQ: commands
 * wait through a failover (no retry limit, as BullMQ requires) while the client follows MOVED and
 * refreshes its slot map. No keyPrefix: BullMQ refuses one; its keys carry their own hash tag.
 */
export function createRedisCluster(urls: readonly string[]): Cluster {
  const seeds = urls.map((url) => new URL(url));
  const auth = seeds[0];
  const cluster = new Cluster(
    seeds.map((seed) => ({ host: seed.hostname, port: seed.port === '' ? 6379 : Number(seed.port) })),
    {
      redisOptions: {
        connectTimeout: 2_000,
        maxRetriesPerRequest: null,
        ...(auth?.username ? { username: decodeURIComponent(auth.username) } : {}),
        ...(auth?.password ? { password: decodeURIComponent(auth.password) } : {}),
      },
      // No ready check: when it fails (cluster_state fail, mid-failover) ioredis reconnects and leaves
      // the pending connect() unsettled, and BullMQ's worker awaits that connect() to restore its
      // blocking connection: the worker then never takes a job again. Without it, a command sent
      // while the cluster is down gets CLUSTERDOWN and is retried (retryDelayOnClusterDown).
      enableReadyCheck: false,
      clusterRetryStrategy: (times) => Math.min(times * 100, 2_000),
      // A failover takes the cluster's node timeout and an election: commands meanwhile wait and retry.
      retryDelayOnFailover: 200,
      retryDelayOnClusterDown: 200,
      retryDelayOnTryAgain: 200,
      slotsRefreshTimeout: 2_000,
      scaleReads: 'master',
    },
  );
  const dependency = redisClusterDependency(urls);
  dependencyNames.set(cluster, dependency);
  cluster.on('error', (error: unknown) => outages.down(dependency, error));
  cluster.on('ready', () => outages.up(dependency));
  // A node that fails is the cluster's business (a replica takes over); its errors are not the
  // process's outage. Without a listener they would go unheard anyway; this one says so on purpose.
  cluster.on('node error', () => undefined);
  return cluster;
}

/** BullMQ's connection from the configuration: the cluster when REDIS_CLUSTER_NODES is set. */
export function createBullmqRedis(config: {
  REDIS_URL: string;
  REDIS_CLUSTER_NODES?: string[] | undefined;
}): RedisClient {
  return config.REDIS_CLUSTER_NODES === undefined
    ? createRedis(config.REDIS_URL)
    : createRedisCluster(config.REDIS_CLUSTER_NODES);
}

const redisConnectionCodes = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EHOSTUNREACH']);
const redisConnectionMessages = ['Connection is closed', 'connect ETIMEDOUT', 'Stream isn', 'LOADING'];

/** A Redis error that means "the node is away", not "the command is wrong". */
export function isRedisConnectionError(error: unknown): boolean {
  if (typeof error !== 'object' || error === null) return false;
  const { code, message, name } = error as { code?: unknown; message?: unknown; name?: unknown };
  if (redisConnectionCodes.has(String(code)) || name === 'MaxRetriesPerRequestError') return true;
  return redisConnectionMessages.some((m) => String(message).includes(m));
}

/**
 * The 'error' listener for BullMQ's queues and workers: their own connections (BullMQ duplicates
 * ours for blocking reads) report every failed reconnect here. An unreachable node goes to the
 * outage log, once per outage; anything else is logged as it comes.
 */
export function onBullmqError(logger: Logger, dependency: string, what: string): (error: Error) => void {
  return (error) => {
    if (isRedisConnectionError(error)) outages.down(dependency, error);
    else logger.error({ err: error }, `${what} error`);
  };
}

/** The outage-log name of a connection's node, or of its cluster. */
export function redisDependencyOf(client: RedisClient): string {
  const known = dependencyNames.get(client);
  if (known !== undefined) return known;
  if (client instanceof Cluster) return 'redis cluster';
  return `redis ${client.options.host ?? '127.0.0.1'}:${client.options.port ?? 6379}`;
}
