// npm run bench [-- --quick] : the engine against the same order written as one transaction, in
// one run. Pairs alternate engine and baseline at saturation (closed loop); the engine's latency is
// measured at 50% and 80% of its saturation (open loop); hot products run with Redlock on and off.
// Prints the tables, writes bench-results/<time>.json, and ends with the line `ratio <median>`.
import { randomUUID } from 'node:crypto';
import { cpus, loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { loadConfig } from '../../src/platform/config.ts';
import { signToken } from '../../src/platform/auth.ts';
import { freshDatabase, maintenanceUrl, median, wipeableBenchDatabaseUrl } from './bench-support.ts';
import { defaultClusterUrls } from '../../src/local-infra/redis-cluster.local.ts';
import { clusterRedis, ensureTopic, startPrivateRedis } from './bench-infra.ts';
import { Monitor, StatsReader } from './counters.ts';
import { engineLayouts, stopChildrenOnSignal, type EngineLayout } from './engine-processes.ts';
import { customerIds } from './load.ts';
import { baselineSaturation, engineHot, enginePair } from './phases.ts';
import type { BenchContext, BenchSettings, PhaseResult } from './bench-context.ts';
import { perOrder, renderTables, say, startProgress, writeResults, type PairResult } from './report.ts';

const usage = `usage: npm run bench -- [--quick] [--engine one-process|per-role] [--pairs N] [--clients N]
       [--products N] [--seconds S] [--latency-seconds S] [--warmup-seconds S] [--no-hot] [--hot] [--port P] [--seed N]
       [--redis-cluster]
  --engine: how the engine runs, as \`npm run up\` (one-process) or \`npm run supervise\` (per-role) runs it;
            a full run does both, a quick run one-process unless told
  --redis-cluster: BullMQ on the local Redis Cluster (REDIS_CLUSTER_NODES, default 127.0.0.1:7300-7305;
            \`npm run services:up -- --redis-cluster\` starts it) instead of a private redis-server`;

/** A wrong command line: one line and exit 64, no stack. */
class UsageError extends Error {}

function settingsFrom(argv: string[]): BenchSettings & { port: number } {
  const parse = () =>
    parseArgs({
      args: argv,
      options: {
        quick: { type: 'boolean', default: false },
        engine: { type: 'string' },
        pairs: { type: 'string' },
        clients: { type: 'string', default: '50' },
        products: { type: 'string', default: '50' },
        seconds: { type: 'string' },
        'latency-seconds': { type: 'string' },
        'warmup-seconds': { type: 'string' },
        hot: { type: 'boolean' },
        'no-hot': { type: 'boolean' },
        port: { type: 'string', default: '3190' },
        seed: { type: 'string', default: '42' },
        'redis-cluster': { type: 'boolean', default: false },
        help: { type: 'boolean', default: false },
      },
    });
  let values: ReturnType<typeof parse>['values'];
  try {
    ({ values } = parse());
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  if (values.help === true) {
    process.stdout.write(`${usage}\n`);
    process.exit(0);
  }
  const quick = values.quick === true;
  const engine = values.engine;
  if (engine !== undefined && !(engineLayouts as readonly string[]).includes(engine)) {
    throw new UsageError(`--engine must be one of ${engineLayouts.join(', ')}`);
  }
  const engines: EngineLayout[] =
    engine !== undefined ? [engine as EngineLayout] : quick ? ['one-process'] : [...engineLayouts];
  const number = (name: string, text: string | undefined, fallback: number) => {
    const value = text === undefined ? fallback : Number(text);
    if (!Number.isFinite(value) || value <= 0) throw new UsageError(`--${name} must be a positive number`);
    return value;
  };
  return {
    quick,
    pairs: Math.round(number('pairs', values.pairs, quick ? 1 : 3)),
    clients: Math.round(number('clients', values.clients, 50)),
    products: Math.round(number('products', values.products, 50)),
    hotProducts: 10,
    warmupMs: number('warmup-seconds', values['warmup-seconds'], quick ? 1 : 3) * 1_000,
    engineWarmupMs: quick ? 3_000 : 5_000,
    saturationMs: number('seconds', values.seconds, quick ? 5 : 20) * 1_000,
    latencyMs: number('latency-seconds', values['latency-seconds'], quick ? 4 : 20) * 1_000,
    drainTimeoutMs: quick ? 30_000 : 120_000,
    startTimeoutMs: 90_000,
    // Quick runs leave the hot-product phases out to stay under a minute; --hot puts them back.
    hot: values['no-hot'] === true ? false : (values.hot ?? !quick),
    seed: Math.round(number('seed', values.seed, 42)),
    port: Math.round(number('port', values.port, 3190)),
    engines,
    redisCluster: values['redis-cluster'] === true,
  };
}

/** Each layout's pairs (engine, then the baseline), then its hot-product phases. */
async function run(contexts: BenchContext[]): Promise<{ phases: PhaseResult[]; pairs: PairResult[] }> {
  const phases: PhaseResult[] = [];
  const pairs: PairResult[] = [];
  for (const context of contexts) {
    const { layout } = context;
    for (let pair = 1; pair <= context.settings.pairs; pair++) {
      const enginePhases = await enginePair(context, pair);
      const engine = enginePhases[0]!;
      phases.push(...enginePhases);
      say(`${layout} pair ${pair}: baseline`);
      const baseline = await baselineSaturation(context, `baseline saturation #${pair} (${layout} pair)`, false);
      phases.push(baseline);
      const ratio = (engine.orders_per_second ?? 0) / (baseline.orders_per_second ?? Number.NaN);
      pairs.push({
        layout,
        pair,
        engine: engine.orders_per_second ?? 0,
        baseline: baseline.orders_per_second ?? 0,
        ratio,
      });
      say(
        `${layout} pair ${pair}: baseline ${baseline.orders_per_second?.toFixed(1)} orders/s, ratio ${ratio.toFixed(3)}`,
      );
    }
    if (context.settings.hot) {
      phases.push(...(await engineHot(context)));
      say(`${layout} hot products: baseline`);
      phases.push(await baselineSaturation(context, `baseline hot (${layout})`, true));
    }
  }
  return { phases, pairs };
}

/** A phase that lost orders or answered errors makes the run fail, after its report. */
function problemsOf(phases: PhaseResult[]): string[] {
  const problems: string[] = [];
  for (const phase of phases) {
    if (phase.errors > 0) problems.push(`${phase.name}: ${phase.errors} errors, e.g. ${phase.error_samples[0]}`);
    const d = phase.drained;
    if (d !== null && !(d.final && d.published && d.notified)) {
      problems.push(`${phase.name}: not drained (final ${d.final}, published ${d.published}, notified ${d.notified})`);
    }
  }
  return problems;
}

/** The settings every engine process of the run gets. */
function engineEnvFor(
  port: number,
  databaseUrl: string,
  topic: string,
  bullmq: { redisUrl: string; queuePrefix: string; clusterNodes?: readonly string[] },
): Record<string, string> {
  // The engine's own defaults otherwise, rate limits included: the bench's customers order as a
  // checkout's would, each with a token of its own, and must stay under every limit.
  return {
    DATABASE_URL: databaseUrl,
    REDIS_URL: bullmq.redisUrl,
    ...(bullmq.clusterNodes === undefined ? {} : { REDIS_CLUSTER_NODES: bullmq.clusterNodes.join(',') }),
    QUEUE_PREFIX: bullmq.queuePrefix,
    KAFKA_TOPIC_ORDER_EVENTS: topic,
    // Its own consumer group: the shared brokers' group 'notifications' has other engines' members.
    KAFKA_NOTIFICATIONS_GROUP_ID: process.env.KAFKA_NOTIFICATIONS_GROUP_ID ?? 'notifications-bench',
    HTTP_HOST: '127.0.0.1',
    HTTP_PORT: String(port),
    METRICS_PORT: '0',
    LOG_LEVEL: 'info',
    REDLOCK_ENABLED: 'true',
    KAFKAJS_NO_PARTITIONER_WARNING: '1',
  };
}

/** Prints the tables, the problems and `ratio <median>` last; writes the JSON. Returns the exit code. */
function report(
  context: BenchContext,
  result: { phases: PhaseResult[]; pairs: PairResult[] },
  runStartedAt: number,
  loadAtStart: number[],
) {
  const { phases, pairs } = result;
  const ratios = Object.fromEntries(
    context.settings.engines.map((layout) => [
      layout,
      median(pairs.filter((p) => p.layout === layout).map((p) => p.ratio)),
    ]),
  );
  const ratio = ratios[context.settings.engines[0]!] ?? Number.NaN;
  const problems = problemsOf(phases);
  const path = writeResults({
    started_at: new Date(runStartedAt).toISOString(),
    seconds: (Date.now() - runStartedAt) / 1_000,
    settings: context.settings,
    // A busy machine makes every figure noise: the load averages say how busy it was.
    machine: { cpus: cpus().length, load_average_at_start: loadAtStart, load_average_at_end: loadavg() },
    database: new URL(context.databaseUrl).pathname.slice(1),
    topic: context.topic,
    pg_pool_size_max: context.poolSizeMax,
    pairs,
    ratio_median: ratios,
    phases: phases.map((phase) => ({ ...phase, per_order: perOrder(phase) })),
    problems,
  });
  process.stdout.write(`${renderTables(phases, pairs)}\n\n`);
  for (const problem of problems) process.stdout.write(`PROBLEM: ${problem}\n`);
  process.stdout.write(`results: ${path} (${((Date.now() - runStartedAt) / 1_000).toFixed(0)} s)\n`);
  for (const [layout, r] of Object.entries(ratios)) process.stdout.write(`ratio ${layout} ${r.toFixed(3)}\n`);
  process.stdout.write(`ratio ${ratio.toFixed(3)}\n`);
  return problems.length === 0 ? 0 : 1;
}

/** BullMQ's Redis for the run: a private redis-server, or the local cluster with a queue prefix of the run's own. */
async function bullmqRedis(settings: BenchSettings, runTag: string) {
  if (!settings.redisCluster) {
    const redis = await startPrivateRedis(Number(process.env.BENCH_REDIS_PORT ?? 6391));
    say(`BullMQ on a private redis-server at ${redis.url}`);
    return { redis, queuePrefix: process.env.QUEUE_PREFIX ?? 'bench', clusterNodes: undefined };
  }
  const clusterNodes = process.env.REDIS_CLUSTER_NODES?.split(',').map((u) => u.trim()) ?? defaultClusterUrls;
  const queuePrefix = `bench-${runTag}`;
  const redis = await clusterRedis(clusterNodes, queuePrefix);
  say(`BullMQ on the Redis Cluster ${clusterNodes.join(',')}: queues under {${queuePrefix}}, served by ${redis.url}`);
  return { redis, queuePrefix, clusterNodes };
}

async function main(): Promise<number> {
  const settings = settingsFrom(process.argv.slice(2));
  stopChildrenOnSignal();
  const runStartedAt = Date.now();
  const databaseUrl = wipeableBenchDatabaseUrl();
  const database = new URL(databaseUrl).pathname.slice(1);
  const topic = process.env.KAFKA_TOPIC_ORDER_EVENTS ?? 'order-events-bench';
  const loadAtStart = loadavg();
  const [load1] = loadAtStart;
  say(`database ${database} (schema rebuilt), topic ${topic}, ${settings.quick ? 'quick' : 'full'} mode`);
  say(`machine: ${cpus().length} CPUs, load average ${load1?.toFixed(1)}: figures from a busy machine are noise`);
  const setupPool = await freshDatabase(databaseUrl);
  await setupPool.end();
  const runTag = `r${randomUUID().slice(0, 6)}`;
  const bullmq = await bullmqRedis(settings, runTag);
  const redis = bullmq.redis;
  const closers: (() => Promise<unknown>)[] = [() => redis.stop()];
  const stopProgress = startProgress(runStartedAt);
  try {
    const engineEnv = engineEnvFor(settings.port, databaseUrl, topic, {
      redisUrl: redis.url,
      queuePrefix: bullmq.queuePrefix,
      clusterNodes: bullmq.clusterNodes,
    });
    const config = loadConfig({ ...process.env, ...engineEnv });
    await ensureTopic(config.KAFKA_BROKERS, topic);
    // Each customer orders with a token of its own, as a checkout would.
    const customerTokens = new Map<string, string>();
    for (const userId of customerIds(settings.clients)) {
      customerTokens.set(userId, await signToken(config, { userId, role: 'customer', ttlSeconds: 6 * 3_600 }));
    }
    const monitor = await Monitor.connect(databaseUrl);
    closers.unshift(() => monitor.client.end());
    const stats = await StatsReader.connect(maintenanceUrl(databaseUrl), database);
    closers.unshift(() => stats.close());
    if (!(await stats.statementsAvailable())) {
      say('pg_stat_statements is not loaded by this server: statements per order are not counted');
    }
    const base = {
      settings,
      runTag,
      topic,
      apiUrl: `http://127.0.0.1:${settings.port}`,
      customerTokens,
      metricsPortBase: settings.port + 1,
      poolSizeMax: config.PG_POOL_SIZE_MAX,
      databaseUrl,
      engineEnv,
      monitor,
      stats,
      redis: { client: redis.client, pid: redis.pid },
      say,
    };
    const contexts: BenchContext[] = settings.engines.map((layout) => ({ ...base, layout }));
    const result = await run(contexts);
    stopProgress();
    return report(contexts[0]!, result, runStartedAt, loadAtStart);
  } finally {
    stopProgress();
    for (const close of closers) await close().catch(() => undefined);
  }
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    if (error instanceof UsageError) {
      process.stderr.write(`${error.message}\n${usage}\n`);
      process.exit(64);
    }
    say(`bench failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
    process.exit(1);
  },
);
