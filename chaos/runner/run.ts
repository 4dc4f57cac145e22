// One chaos run from start to verdict: stores ready, fleet up, load and faults on schedule, drain,
// invariants, report. Everything the run decides comes from its seed (schedule.ts).
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { startRedisNode, stopRedisNode } from '../../src/local-infra/redis.local.ts';
import { loadConfig, type Config } from '../../src/platform/config.ts';
import { createPool, type Pool } from '../../src/platform/db.ts';
import type { RunOptions } from './args.ts';
import type { CheckScope } from './check-types.ts';
import { ordersByStatus, ordersInScope, runChecks } from './checks.ts';
import { emptyFaultLog, runFaults, type FaultLog } from './faults.ts';
import { Fleet } from './fleet.ts';
import { LoadGenerator } from './load.ts';
import { drain, progressOf, startStatusLine, type DrainResult } from './progress.ts';
import { raceRound } from './race.ts';
import type { RaceRound, RunReport } from './report.ts';
import { fleetMembers, planSchedule, redlockPorts, twinMembers, type Schedule } from './schedule.ts';
import { adminToken, createFixtures, ensureDatabase, freePort, prepareStores, runTag } from './setup.ts';

/** Fast failure detection for the fleet: a killed worker's jobs come back within seconds. */
const lockDurationMs = 5_000;

export interface RunContext {
  options: RunOptions;
  config: Config;
  pool: Pool;
  startedAt: string;
  logDir: string;
  failures: string[];
  stopped: boolean;
}

function fleetEnv(context: RunContext, port: number, ownRedlock: boolean): Record<string, string> {
  const { options, config } = context;
  return {
    DATABASE_URL: config.DATABASE_URL,
    QUEUE_PREFIX: config.QUEUE_PREFIX,
    KAFKA_TOPIC_ORDER_EVENTS: config.KAFKA_TOPIC_ORDER_EVENTS,
    // Engines of other users share the broker: a group of our own, or their members take our partitions.
    KAFKA_NOTIFICATIONS_GROUP_ID: `notifications-${config.KAFKA_TOPIC_ORDER_EVENTS}`,
    HTTP_HOST: '127.0.0.1',
    HTTP_PORT: String(port),
    METRICS_PORT: '0',
    LOG_LEVEL: process.env.LOG_LEVEL ?? 'info',
    // Nine processes share PostgreSQL with other users of this machine: small pools.
    PG_POOL_SIZE_MAX: '6',
    // The runner is the only client and sends its load on purpose: rate limits out of its way.
    RATE_LIMIT_IP_MAX: '10000000',
    RATE_LIMIT_ORDERS_MAX: '10000000',
    RATE_LIMIT_API_MAX: '10000000',
    QUEUE_LOCK_DURATION_MS: String(lockDurationMs),
    QUEUE_STALLED_INTERVAL_MS: '2000',
    OUTBOX_SWEEP_INTERVAL_MS: '500',
    OUTBOX_SWEEP_AGE_MS: '1000',
    OUTBOX_REDELIVER_AFTER_MS: '15000',
    PAYMENT_SIM_SEED: String(options.seed % 2 ** 31),
    PAYMENT_SIM_TRANSIENT_RATE: '0.05',
    PAYMENT_SIM_LOST_RESPONSE_RATE: '0.02',
    // A paused worker must have jobs in flight for their locks to lapse: slow payments keep some.
    ...(options.scenario === 'pause' ? { PAYMENT_SIM_LATENCY_MS_MIN: '300', PAYMENT_SIM_LATENCY_MS_MAX: '1500' } : {}),
    ...(ownRedlock ? { REDLOCK_NODES: redlockPorts.map((p) => `redis://127.0.0.1:${p}`).join(',') } : {}),
  };
}

function needsOwnRedlock(options: RunOptions): boolean {
  return options.scenario === 'redis' || (options.scenario === 'all' && options.allKinds.includes('redis'));
}

async function startFleet(fleet: Fleet, members: readonly string[], failures: string[]): Promise<boolean> {
  const started = await Promise.allSettled(members.map((m) => fleet.start(m)));
  for (const outcome of started) if (outcome.status === 'rejected') failures.push(String(outcome.reason));
  return started.every((o) => o.status === 'fulfilled');
}

interface Driven {
  load: LoadGenerator | null;
  race: RaceRound[];
  faults: FaultLog;
  drain: DrainResult | null;
  tag: string;
}

async function drive(context: RunContext, fleet: Fleet, schedule: Schedule, apiUrl: string): Promise<Driven> {
  const { options, pool, config } = context;
  const tag = runTag();
  const token = await adminToken(config);
  const faults = emptyFaultLog();
  const read = () => progressOf(pool, tag, config.KAFKA_TOPIC_ORDER_EVENTS);
  if (options.scenario === 'race') {
    const race: RaceRound[] = [];
    const raceContext = { pool, fleet, apiUrl, token, tag, orders: schedule.orders, finalTimeoutMs: options.drainMs };
    for (const redlock of options.redlock) race.push(await raceRound(raceContext, redlock));
    return { load: null, race, faults, drain: await drain(read, options.drainMs, true), tag };
  }
  const fixtures = await createFixtures(pool, tag, 8);
  const load = new LoadGenerator(apiUrl, token, fixtures);
  const startedAt = Date.now();
  const stopStatus = startStatusLine(read, load.stats, faults, startedAt);
  const stopped = () => context.stopped;
  await Promise.all([
    load.run(schedule.orders, stopped),
    runFaults(
      schedule.faults,
      { fleet, pool, brokers: config.KAFKA_BROKERS, startedAt, durationMs: options.durationMs, stopped },
      faults,
    ),
  ]);
  // A process died unasked and was not restarted: the run has failed; do not wait long for it.
  const drainMs = fleet.unexpectedExits.length > 0 ? Math.min(options.drainMs, 30_000) : options.drainMs;
  const drained = await drain(read, drainMs, true);
  stopStatus();
  return { load, race: [], faults, drain: drained, tag };
}

function verdict(
  context: RunContext,
  fleet: Fleet,
  driven: Driven | null,
  report: Omit<RunReport, 'pass' | 'failures'>,
) {
  const failures = [...context.failures];
  failures.push(
    ...fleet.unexpectedExits.map((e) => `${e.member} exited unexpectedly (code ${e.code}, signal ${e.signal})`),
  );
  if (driven !== null) {
    failures.push(...driven.faults.errors.map((e) => `fault not undone: ${e}`));
    if (driven.drain !== null && !driven.drain.settled) {
      failures.push(
        `the system did not settle within ${driven.drain.waitedMs} ms: ${JSON.stringify(driven.drain.last)}`,
      );
    }
    if (driven.load !== null && driven.load.stats.refused.length > 0) {
      failures.push(`${driven.load.stats.refused.length} orders refused by the API`);
    }
    failures.push(...driven.race.filter((r) => !r.pass).map((r) => `race with Redlock ${r.redlock} failed`));
  }
  failures.push(...report.invariants.filter((i) => !i.pass).map((i) => `invariant failed: ${i.name}`));
  return { ...report, pass: failures.length === 0, failures };
}

async function withOwnRedlock<T>(enabled: boolean, work: () => Promise<T>): Promise<T> {
  if (!enabled) return work();
  const started: number[] = [];
  try {
    for (const port of redlockPorts) {
      const result = await startRedisNode(port);
      if (result.action === 'started') started.push(port);
    }
    return await work();
  } finally {
    for (const port of started) await stopRedisNode(port).catch(() => undefined);
  }
}

export async function run(options: RunOptions, onStop: (stop: () => Promise<void>) => void): Promise<RunReport> {
  const config = loadConfig(process.env);
  await ensureDatabase(config.DATABASE_URL);
  const pool = createPool({
    connectionString: config.DATABASE_URL,
    poolSizeMax: 4,
    statementTimeoutMs: 120_000,
    applicationName: 'chaos-runner',
  });
  const startedAt = new Date().toISOString();
  const logDir = join(options.outDir, `${startedAt.replaceAll(':', '-')}-logs`);
  mkdirSync(logDir, { recursive: true });
  const context: RunContext = { options, config, pool, startedAt, logDir, failures: [], stopped: false };
  try {
    await prepareStores(config, pool);
    const ownRedlock = needsOwnRedlock(options);
    return await withOwnRedlock(ownRedlock, async () => {
      const port = await freePort();
      // The API meets a thousand buyers at once in `race`: it gets the default pool, the rest small ones.
      const fleet = new Fleet(fleetEnv(context, port, ownRedlock), logDir, { api: { PG_POOL_SIZE_MAX: '20' } });
      onStop(async () => {
        context.stopped = true;
        await fleet.stopAll();
      });
      try {
        return await runWithFleet(context, fleet, `http://127.0.0.1:${port}`);
      } finally {
        await fleet.stopAll();
      }
    });
  } finally {
    await pool.end();
  }
}

async function runWithFleet(context: RunContext, fleet: Fleet, apiUrl: string): Promise<RunReport> {
  const { options, pool, config } = context;
  const ledgerOnly = options.scenario === 'ledger';
  const twins = options.scenario === 'pause' ? twinMembers : [];
  const members: readonly string[] = ledgerOnly ? ['api'] : [...fleetMembers, ...twins];
  process.stderr.write(
    `chaos ${options.scenario}: seed ${options.seed}; starting ${members.length} processes (logs in ${context.logDir})\n`,
  );
  const up = await startFleet(fleet, members, context.failures);
  const schedule = planSchedule({ ...options, lockDurationMs, redlockTtlMs: config.REDLOCK_TTL_MS });
  const driven = up && !ledgerOnly ? await drive(context, fleet, schedule, apiUrl) : null;
  const orderIds = await ordersInScope(pool, ledgerOnly ? null : (driven?.tag ?? 'no-run'));
  const scope: CheckScope = {
    orderIds,
    topic: config.KAFKA_TOPIC_ORDER_EVENTS,
    brokers: config.KAFKA_BROKERS,
    api: up ? { url: apiUrl, token: await adminToken(config) } : null,
    expectNotifications: !ledgerOnly,
    onePerRequest: !ledgerOnly,
  };
  process.stderr.write(`chaos: checking invariants over ${orderIds.length} orders\n`);
  const invariants = await runChecks(pool, scope);
  const { orderIds: _ids, ...load } = driven?.load?.stats ?? { orderIds: [] };
  return verdict(context, fleet, driven, {
    seed: options.seed,
    scenario: options.scenario,
    tag: driven?.tag ?? null,
    startedAt: context.startedAt,
    finishedAt: new Date().toISOString(),
    options: {
      ...options,
      lockDurationMs,
      plannedFaults: schedule.faults.length,
      plannedOrders: schedule.orders.length,
    },
    load: driven?.load === null || driven === null ? null : (load as RunReport['load']),
    ordersByStatus: await ordersByStatus(pool, orderIds),
    faults: driven?.faults ?? emptyFaultLog(),
    unexpectedExits: fleet.unexpectedExits,
    drain: driven?.drain ?? null,
    race: driven?.race ?? [],
    invariants,
    logDir: context.logDir,
  });
}
