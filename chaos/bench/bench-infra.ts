// What a bench run needs besides the engine: its own Redis for BullMQ (so INFO commandstats and
// the redis-server CPU count only this run's work, on a machine where others share 6379), and the
// Kafka topic the relay publishes to.
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { redisClusterNodePaths } from '../../src/local-infra/paths.ts';
import { livePidFromFile } from '../../src/local-infra/process.local.ts';
import { clusterLayout, isClusterFormed, masterOfKey } from '../../src/local-infra/redis-cluster.local.ts';
import { createKafka } from '../../src/platform/kafka.ts';
import { createRedis, type Redis } from '../../src/platform/redis.ts';
import { pollUntil } from './bench-support.ts';
import { adoptChild } from './engine-processes.ts';

export interface PrivateRedis {
  url: string;
  pid: number;
  client: Redis;
  stop(): Promise<void>;
}

async function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/** A redis-server of our own, in memory only, on the first free port from `firstPort`. */
export async function startPrivateRedis(firstPort: number): Promise<PrivateRedis> {
  let port = firstPort;
  while (!(await portIsFree(port))) {
    port++;
    if (port > firstPort + 20) throw new Error(`no free port for the bench Redis in ${firstPort}..${port}`);
  }
  const child: ChildProcess = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
    { stdio: 'ignore' },
  );
  adoptChild(child);
  const spawnError = new Promise<Error>((resolve) => child.once('error', resolve));
  const url = `redis://127.0.0.1:${port}`;
  const client = createRedis(url, { maxRetriesPerRequest: 1 });
  client.on('error', () => undefined);
  const answered = await Promise.race([
    pollUntil(async () => (await client.ping().catch(() => '')) === 'PONG', 10_000, 100),
    spawnError.then((error) => {
      throw new Error(`redis-server did not start (${error.message}); it comes with the Redis OS package`);
    }),
  ]);
  if (!answered) throw new Error(`the bench Redis on port ${port} did not answer within 10 s`);
  // BullMQ refuses to run on a Redis that may evict its keys.
  await client.config('SET', 'maxmemory-policy', 'noeviction');
  return {
    url,
    pid: child.pid!,
    client,
    async stop() {
      client.disconnect();
      if (child.exitCode !== null) return;
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      child.kill('SIGTERM');
      await exited;
    },
  };
}

/**
 * BullMQ on the local Redis Cluster (`npm run services:up -- --redis-cluster`) instead of a private
 * node. Every queue key carries the `{prefix}` hash tag, so one master serves them all: its INFO
 * commandstats and its redis-server's CPU are what the run counts (replication to its replica is
 * not). `prefix` should be new for the run, as the cluster keeps earlier runs' keys.
 */
export async function clusterRedis(urls: readonly string[], prefix: string): Promise<PrivateRedis> {
  const layout = clusterLayout(urls);
  if (!(await isClusterFormed(layout))) {
    throw new Error(`no formed Redis Cluster at ${urls.join(', ')}: run npm run services:up -- --redis-cluster`);
  }
  const master = await masterOfKey(layout.nodes[0]!, `{${prefix}}:orders:meta`);
  const node = layout.nodes.find((n) => n.address === master.address);
  const pid = node && livePidFromFile(redisClusterNodePaths(node.port, layout.baseDir).pidFile, 'redis-server');
  if (node === undefined || pid === undefined) {
    throw new Error(`the cluster master ${master.address} is not a node this machine started (no pid file)`);
  }
  const client = createRedis(node.url, { maxRetriesPerRequest: 1 });
  client.on('error', () => undefined);
  return {
    url: node.url,
    pid,
    client,
    async stop() {
      client.disconnect();
    },
  };
}

/** Creates the topic (6 partitions, like order-events) unless it exists. */
export async function ensureTopic(brokers: string[], topic: string): Promise<void> {
  const kafka = createKafka({ brokers, clientId: 'bench-admin', requestTimeoutMs: 10_000, connectionTimeoutMs: 3_000 });
  const admin = kafka.admin();
  await admin.connect();
  try {
    const existing = await admin.listTopics();
    if (!existing.includes(topic)) {
      await admin.createTopics({
        topics: [{ topic, numPartitions: 6, replicationFactor: 1 }],
        waitForLeaders: true,
        timeout: 10_000,
      });
    }
  } finally {
    await admin.disconnect();
  }
}
