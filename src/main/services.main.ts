// `npm run services:up | services:down | services:status`: the local PostgreSQL, Redis nodes and Kafka
// that the engine and its tests need, and the tests' OS tools (chromium, promtool). Starts only what is
// missing and stops only what it started. `-- --redis-cluster` adds a local Redis Cluster for BullMQ
// (REDIS_CLUSTER_NODES, else six nodes on 7300-7305); status and down include it whenever it is ours.
import { performance } from 'node:perf_hooks';
import { loadConfigOrExit, type Config } from '../platform/config.ts';
import { ensureTopic, kafkaStatus, startKafka, stopKafka } from '../local-infra/kafka.local.ts';
import { ensureOsTools, osToolsService, osToolStatuses, type OsToolStatus } from '../local-infra/os-tools.local.ts';
import {
  ensureDatabases,
  ensurePostgresRunning,
  postgresStatus,
  postgresTarget,
} from '../local-infra/postgres.local.ts';
import { ensureStatementStats } from '../local-infra/postgres-statements.local.ts';
import {
  clusterLayout,
  defaultClusterUrls,
  ensureRedisCluster,
  redisClusterStatuses,
  stopRedisCluster,
  type ClusterLayout,
} from '../local-infra/redis-cluster.local.ts';
import {
  ensureRedisNode,
  maxMemoryPolicy,
  redisNode,
  redisNodeStatus,
  setNoEviction,
  stopRedisNode,
} from '../local-infra/redis.local.ts';
import { ServiceError, type ServiceStatus, type StartResult } from '../local-infra/service-result.ts';
import { formatDuration } from '../local-infra/wait.ts';

const verbs = ['up', 'down', 'status'] as const;
type Verb = (typeof verbs)[number];
const clusterFlag = '--redis-cluster';
const topicPartitionCount = 6;

function print(line: string): void {
  process.stdout.write(`${line}\n`);
}

const progress = (line: string) => print(`    ... ${line}`);

/** Runs one step, prints what it did and how long it took; a failure is tagged with the step's service. */
async function step<T>(label: string, run: () => Promise<T>, describe: (value: T) => string): Promise<T> {
  const startedAt = performance.now();
  try {
    const value = await run();
    print(`  ${label}: ${describe(value)} (${formatDuration(performance.now() - startedAt)})`);
    return value;
  } catch (error) {
    if (error instanceof ServiceError) throw error;
    throw new ServiceError(label, error instanceof Error ? error.message : String(error));
  }
}

function describeStart(result: StartResult): string {
  return [result.action, result.detail, result.pid === undefined ? undefined : `pid ${result.pid}`]
    .filter((part) => part !== undefined)
    .join(', ');
}

/** The BullMQ node first, then the other Redlock nodes, each address once. */
function redisUrls(config: Config): string[] {
  const byAddress = new Map<string, string>();
  for (const url of [config.REDIS_URL, ...config.REDLOCK_NODES]) {
    const address = redisNode(url).address;
    if (!byAddress.has(address)) byAddress.set(address, url);
  }
  return [...byAddress.values()];
}

/** The local cluster's nodes: REDIS_CLUSTER_NODES when set, else the default six. */
function clusterOf(config: Config): ClusterLayout {
  return clusterLayout(config.REDIS_CLUSTER_NODES ?? defaultClusterUrls);
}

/** Asked for with --redis-cluster, configured for the engine, or running as ours: then it is in the picture. */
async function clusterInPicture(config: Config, flagged: boolean): Promise<ClusterLayout | null> {
  if (flagged || config.REDIS_CLUSTER_NODES !== undefined) return clusterOf(config);
  const layout = clusterOf(config);
  const statuses = await redisClusterStatuses(layout);
  return statuses.some((s) => s.ours) ? layout : null;
}

async function upCluster(config: Config): Promise<void> {
  const layout = clusterOf(config);
  const first = layout.nodes[0]?.address ?? '';
  await step(
    `redis cluster ${first}+${layout.nodes.length - 1}`,
    () => ensureRedisCluster(layout, progress),
    describeStart,
  );
  if (config.REDIS_CLUSTER_NODES === undefined) {
    print(`    ... for the engine to run BullMQ on it: REDIS_CLUSTER_NODES=${defaultClusterUrls.join(',')}`);
  }
}

async function up(config: Config, flagged: boolean): Promise<void> {
  const postgres = postgresTarget(config.DATABASE_URL);
  await step(`postgres ${postgres.address}`, () => ensurePostgresRunning(postgres, progress), describeStart);
  await step(
    'postgres databases',
    () => ensureDatabases(postgres),
    ({ created, existing }) =>
      [
        created.length > 0 ? `created ${created.join(', ')}` : '',
        existing.length > 0 ? `present ${existing.join(', ')}` : '',
      ]
        .filter((part) => part !== '')
        .join('; '),
  );
  await step(
    'postgres pg_stat_statements',
    () => ensureStatementStats(postgres, progress),
    (detail) => detail,
  );
  // On a cluster, BullMQ leaves REDIS_URL's node alone; it still runs (often a Redlock node too).
  const bullmqAddress = config.REDIS_CLUSTER_NODES === undefined ? redisNode(config.REDIS_URL).address : null;
  for (const url of redisUrls(config)) {
    const node = redisNode(url);
    const isBullmqNode = node.address === bullmqAddress;
    await step(
      `redis ${node.address}`,
      async () => {
        const result = await ensureRedisNode(url);
        if (isBullmqNode) await setNoEviction(url);
        return result;
      },
      (result) => `${describeStart(result)}${isBullmqNode ? '; maxmemory-policy noeviction (BullMQ node)' : ''}`,
    );
  }
  if (flagged || config.REDIS_CLUSTER_NODES !== undefined) await upCluster(config);
  const brokers = config.KAFKA_BROKERS;
  await step(`kafka ${brokers[0] ?? ''}`, () => startKafka({ brokers, onProgress: progress }), describeStart);
  const topic = config.KAFKA_TOPIC_ORDER_EVENTS;
  await step(
    `kafka topic ${topic}`,
    () => ensureTopic(topic, topicPartitionCount, brokers),
    (result) => `${result.action}, ${result.partitionCount} partitions`,
  );
  // Last, so that a person without root still gets every server before the command to run by hand.
  await step(
    osToolsService,
    () => ensureOsTools(progress),
    (result) => `${result.action}, ${result.detail}`,
  );
}

/** Stops Kafka, the Redlock-only Redis nodes and the cluster when ours; PostgreSQL and the BullMQ node stay up. */
async function down(config: Config, flagged: boolean): Promise<void> {
  const cluster = await clusterInPicture(config, flagged);
  if (cluster !== null) {
    for (const { node, result } of await stopRedisCluster(cluster)) {
      print(
        `  redis cluster ${node.address}: ${result.pid === undefined ? result.action : `${result.action} pid ${result.pid}`}`,
      );
    }
  }
  const brokers = config.KAFKA_BROKERS;
  await step(
    `kafka ${brokers[0] ?? ''}`,
    () => stopKafka({ brokers, requireOurs: false }),
    (result) => (result.pid === undefined ? result.action : `${result.action} pid ${result.pid}`),
  );
  const bullmqAddress = redisNode(config.REDIS_URL).address;
  for (const url of redisUrls(config)) {
    const node = redisNode(url);
    if (node.address === bullmqAddress) {
      // The BullMQ node stands in for the machine's Redis, which other programs use too.
      print(`  redis ${node.address}: left running (BullMQ node, never stopped by services:down)`);
      continue;
    }
    await step(
      `redis ${node.address}`,
      () => stopRedisNode(node.port, { requireOurs: false }),
      (result) => (result.pid === undefined ? result.action : `${result.action} pid ${result.pid}`),
    );
  }
  print(`  postgres ${postgresTarget(config.DATABASE_URL).address}: left running (the machine's server)`);
}

function statusLine(status: ServiceStatus): string {
  const pid = status.pid === undefined ? '' : ` pid ${status.pid}`;
  const owner = status.ours ? `ours${pid}` : status.up ? 'not ours' : '-';
  const detail = status.detail === undefined ? '' : `  ${status.detail}`;
  return `  ${status.service.padEnd(9)}${(status.up ? 'up' : 'down').padEnd(8)}${status.address.padEnd(19)}${owner}${detail}`;
}

function toolLine(status: OsToolStatus): string {
  return `  ${status.tool.name.padEnd(9)}${(status.present ? 'ok' : 'missing').padEnd(8)}${status.path.padEnd(19)}${status.detail}`;
}

/** One line per service and OS tool; resolves to false when any of them is down or missing. */
async function status(config: Config, flagged: boolean): Promise<boolean> {
  const statuses: ServiceStatus[] = [await postgresStatus(postgresTarget(config.DATABASE_URL))];
  for (const url of redisUrls(config)) {
    const nodeStatus = await redisNodeStatus(url);
    if (url === config.REDIS_URL && nodeStatus.up && config.REDIS_CLUSTER_NODES === undefined) {
      nodeStatus.detail = `BullMQ node, maxmemory-policy ${(await maxMemoryPolicy(url)) ?? 'unknown'}`;
    }
    statuses.push(nodeStatus);
  }
  const cluster = await clusterInPicture(config, flagged);
  if (cluster !== null) statuses.push(...(await redisClusterStatuses(cluster)));
  statuses.push(await kafkaStatus(config.KAFKA_BROKERS));
  for (const entry of statuses) print(statusLine(entry));
  const tools = await osToolStatuses();
  for (const tool of tools) print(toolLine(tool));
  return statuses.every((entry) => entry.up) && tools.every((tool) => tool.present);
}

function isVerb(value: string | undefined): value is Verb {
  return verbs.some((verb) => verb === value);
}

async function main(): Promise<void> {
  const [verb, ...flags] = process.argv.slice(2);
  const unknown = flags.filter((flag) => flag !== clusterFlag);
  if (!isVerb(verb) || unknown.length > 0) {
    process.stderr.write(
      `usage: tsx src/main/services.main.ts ${verbs.join('|')} [${clusterFlag}] (got ${JSON.stringify(process.argv.slice(2).join(' '))})\n`,
    );
    process.exitCode = 64;
    return;
  }
  const config = loadConfigOrExit();
  const startedAt = performance.now();
  print(`services:${verb}`);
  try {
    const flagged = flags.includes(clusterFlag);
    if (verb === 'up') await up(config, flagged);
    if (verb === 'down') await down(config, flagged);
    // LSB convention: status exits 3 when a service is not running.
    if (verb === 'status' && !(await status(config, flagged))) process.exitCode = 3;
  } catch (error) {
    const failure = error instanceof ServiceError ? error : new ServiceError('services', String(error));
    if (failure.details !== undefined) process.stderr.write(`${failure.details}\n`);
    process.stderr.write(`services:${verb} failed: ${failure.service}: ${failure.message}\n`);
    process.exitCode = 1;
    return;
  }
  print(`services:${verb}: done in ${formatDuration(performance.now() - startedAt)}`);
}

await main();
