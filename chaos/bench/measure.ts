// Measuring a phase: fresh products, waiting until its orders are final, published and notified,
// the latencies PostgreSQL recorded, and the per-order costs over a window (CPU per process
// group, PostgreSQL counters, Redis commands).
import type { Redis } from 'ioredis';
import { percentilesOf, pollUntil, type Percentiles } from './bench-support.ts';
import {
  databaseDelta,
  redisCommandCalls,
  redisDelta,
  type DatabaseCounters,
  type DatabaseDelta,
  type Monitor,
  type StatsReader,
} from './counters.ts';
import { CpuMeter, pidsMatching } from './cpu.ts';

export const benchApplications = ['order-engine-bench-monitor', 'order-engine-bench-stats'];

/** Products no earlier phase touched, each with stock no phase can exhaust. */
export async function createProducts(monitor: Monitor, prefix: string, count: number): Promise<string[]> {
  const ids = Array.from({ length: count }, (_, i) => `${prefix}-${i}`);
  await monitor.query(
    `WITH p AS (INSERT INTO products (id, name, price, currency)
                SELECT id, id, '9.99', 'USD' FROM unnest($1::text[]) AS id RETURNING id)
     INSERT INTO stock (product_id, on_hand, available) SELECT id, $2, $2 FROM p`,
    [ids, 10_000_000],
  );
  return ids;
}

export interface Drained {
  final: boolean;
  published: boolean;
  notified: boolean;
  seconds: number;
}

/**
 * Waits until every order is final, every Kafka-bound row of those orders is published (the
 * relay's mark), and every confirmed one has its notification (the consumer read it off Kafka).
 */
export async function drain(monitor: Monitor, topic: string, orderIds: string[], timeoutMs: number): Promise<Drained> {
  const started = Date.now();
  const left = () => timeoutMs - (Date.now() - started);
  const final = await pollUntil(async () => {
    const open = await monitor.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM orders WHERE id = ANY($1::uuid[]) AND finalized_at IS NULL`,
      [orderIds],
    );
    return open.rows[0]!.n === 0;
  }, left());
  const published =
    final &&
    (await pollUntil(async () => {
      const open = await monitor.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM outbox
          WHERE destination = $1 AND key = ANY($2::text[]) AND published_at IS NULL`,
        [`kafka:${topic}`, orderIds],
      );
      return open.rows[0]!.n === 0;
    }, left()));
  const notified =
    published &&
    (await pollUntil(async () => {
      const counts = await monitor.query<{ confirmed: number; notified: number }>(
        `SELECT (SELECT count(*)::int FROM orders WHERE id = ANY($1::uuid[]) AND status = 'confirmed') AS confirmed,
                (SELECT count(*)::int FROM notifications WHERE order_id = ANY($1::uuid[])) AS notified`,
        [orderIds],
      );
      return counts.rows[0]!.notified >= counts.rows[0]!.confirmed;
    }, left()));
  return { final, published, notified, seconds: (Date.now() - started) / 1_000 };
}

export interface Outcomes {
  statuses: Record<string, number>;
  /** created_at to finalized_at, as PostgreSQL recorded them. */
  createToFinalMs: Percentiles;
  /** outbox created_at to the relay's published mark, for the orders' Kafka-bound rows. */
  commitToTopicMs: Percentiles & { unpublished: number };
  notifications: number;
}

export async function outcomesOf(monitor: Monitor, topic: string, orderIds: string[]): Promise<Outcomes> {
  const orders = await monitor.query<{ status: string; ms: number | null }>(
    `SELECT status, extract(epoch FROM finalized_at - created_at) * 1000 AS ms FROM orders WHERE id = ANY($1::uuid[])`,
    [orderIds],
  );
  const statuses: Record<string, number> = {};
  for (const row of orders.rows) statuses[row.status] = (statuses[row.status] ?? 0) + 1;
  const events = await monitor.query<{ ms: number | null }>(
    `SELECT extract(epoch FROM published_at - created_at) * 1000 AS ms FROM outbox
      WHERE destination = $1 AND key = ANY($2::text[])`,
    [`kafka:${topic}`, orderIds],
  );
  const notified = await monitor.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM notifications WHERE order_id = ANY($1::uuid[])`,
    [orderIds],
  );
  const finalMs = orders.rows.filter((r) => r.ms !== null).map((r) => Number(r.ms));
  const lagMs = events.rows.filter((r) => r.ms !== null).map((r) => Number(r.ms));
  return {
    statuses,
    createToFinalMs: percentilesOf(finalMs),
    commitToTopicMs: { ...percentilesOf(lagMs), unpublished: events.rows.length - lagMs.length },
    notifications: notified.rows[0]!.n,
  };
}

export interface Costs {
  /** CPU seconds per process group in the window. */
  cpuSeconds: Record<string, number>;
  /** Every process on the machine, other helpers' included. */
  machineCpuSeconds: number;
  /** Every postgres process (all databases, background writers): shared with whatever else runs. */
  postgresAllCpuSeconds: number;
  database: DatabaseDelta;
  redisCommands: Record<string, number>;
  /** BullMQ jobs the engine's workers finished (every queue, the relay's included); null: not read. */
  jobs: number | null;
}

/** Jobs finished so far, summed over every /metrics the engine serves (its job-duration histograms). */
export async function jobsFinished(urls: string[]): Promise<number> {
  let total = 0;
  for (const url of urls) {
    const text = await (await fetch(url)).text();
    for (const match of text.matchAll(/^order_engine_job_duration_seconds_count\{[^}]*\} (\d+)/gm)) {
      total += Number(match[1]);
    }
  }
  return total;
}

/**
 * A window over which costs are counted. Every second it samples CPU and picks up new backends of
 * the bench database (grouped by application name, which names the engine role). close() must
 * run after the measured connections closed: a backend's exit is what flushes its counters.
 */
export class CostWindow {
  private readonly cpu = new CpuMeter();
  private readonly postgresAll = new CpuMeter();
  private timer: NodeJS.Timeout | null = null;
  private before: DatabaseCounters | null = null;
  private redisBefore = new Map<string, number>();
  private monitorQueriesBefore = 0;
  private benchCpuBefore = process.cpuUsage();
  private failure: unknown = null;
  private jobsUrls: string[] = [];
  private jobsBefore = 0;
  private jobsAfter: number | null = null;

  constructor(
    private readonly stats: StatsReader,
    private readonly monitor: Monitor,
    private readonly redis: Redis | null,
  ) {}

  track(group: string, pids: number[]): void {
    this.cpu.track(group, pids);
  }

  /** Counts the jobs the engine behind these /metrics URLs finishes in the window. */
  trackJobs(urls: string[]): void {
    this.jobsUrls = urls;
  }

  async open(): Promise<void> {
    await this.trackBackends();
    this.cpu.track('kafka broker (shared)', pidsMatching({ cmdline: 'kafka.Kafka' }));
    this.postgresAll.track('postgres', pidsMatching({ comm: 'postgres' }));
    await this.monitor.flushStats();
    await new Promise((resolve) => setTimeout(resolve, 50));
    this.before = await this.stats.databaseCounters();
    this.redisBefore = this.redis === null ? new Map() : await redisCommandCalls(this.redis);
    this.monitorQueriesBefore = this.monitor.queries;
    this.jobsBefore = this.jobsUrls.length === 0 ? 0 : await jobsFinished(this.jobsUrls);
    this.benchCpuBefore = process.cpuUsage();
    this.cpu.start();
    this.postgresAll.start();
    this.timer = setInterval(() => {
      this.sample().catch((error: unknown) => (this.failure ??= error));
    }, 1_000);
  }

  /** The last job count: call it while the engine still runs (its metrics go with it). */
  async sampleJobs(): Promise<void> {
    if (this.jobsUrls.length > 0) this.jobsAfter = (await jobsFinished(this.jobsUrls)) - this.jobsBefore;
  }

  /** The last CPU sample: call it while the measured processes still run. */
  async sample(): Promise<void> {
    await this.trackBackends();
    this.postgresAll.track('postgres', pidsMatching({ comm: 'postgres' }));
    this.cpu.sample();
    this.postgresAll.sample();
  }

  /** Stops sampling and reads the counters; the measured connections must be closed by now. */
  async close(): Promise<Costs> {
    if (this.timer !== null) clearInterval(this.timer);
    if (this.failure !== null) throw this.failure;
    const monitorQueries = this.monitor.queries - this.monitorQueriesBefore + 1; // + the flush below
    await this.monitor.flushStats();
    await new Promise((resolve) => setTimeout(resolve, 50));
    const after = await this.stats.databaseCounters();
    const redisAfter = this.redis === null ? new Map<string, number>() : await redisCommandCalls(this.redis);
    const bench = process.cpuUsage(this.benchCpuBefore);
    const { groups, machine } = this.cpu.seconds();
    groups['bench process'] = (bench.user + bench.system) / 1e6;
    return {
      cpuSeconds: groups,
      machineCpuSeconds: machine,
      postgresAllCpuSeconds: this.postgresAll.seconds().groups.postgres ?? 0,
      database: databaseDelta(this.before!, after, monitorQueries),
      redisCommands: redisDelta(this.redisBefore, redisAfter),
      jobs: this.jobsAfter,
    };
  }

  private async trackBackends(): Promise<void> {
    for (const backend of await this.stats.backends()) {
      if (benchApplications.includes(backend.application)) continue;
      this.cpu.track(`postgres backends (${backend.application.replace(/^order-engine-/, '')})`, [backend.pid]);
    }
  }
}
