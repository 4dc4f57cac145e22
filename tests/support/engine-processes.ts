// The engine as separate OS processes, the way production runs it (`npm run api`, `npm run worker
// -- --only …`, `npm run relay`, `npm run notifications`), for the resilience tests: faults are
// injected from outside, and each process must survive them on its own.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { createServer } from 'node:net';
import pg from 'pg';
import { expect } from 'vitest';
import { checkInvariants, waitUntilFinal } from '../../chaos/invariants.ts';
import { defaultRoles } from '../../src/main/supervisor.ts';
import { testDatabaseUrl } from './test-config.ts';
import { address, tokenFor } from './engine.ts';

export interface EngineProcess {
  role: string;
  child: ChildProcess;
  pid: number;
  /** The process's output (pino JSON lines), for diagnostics and outage-log checks. */
  output: string[];
}

/** The processes `npm run supervise` runs (its own list), without metrics ports. */
export const engineRoles: Array<{ role: string; entry: string; args: string[] }> = defaultRoles(0).map((spec) => ({
  role: spec.name,
  entry: spec.entry,
  args: spec.args,
}));

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** The environment every engine process of a test shares: the test database and fast timers. */
export function processEnv(overrides: Record<string, string>): Record<string, string> {
  return {
    ...(process.env as Record<string, string>),
    DATABASE_URL: testDatabaseUrl(),
    LOG_LEVEL: 'warn',
    QUEUE_BACKOFF_MS: '100',
    QUEUE_LOCK_DURATION_MS: '5000',
    QUEUE_STALLED_INTERVAL_MS: '2000',
    OUTBOX_SWEEP_INTERVAL_MS: '250',
    OUTBOX_SWEEP_AGE_MS: '1000',
    OUTBOX_REDELIVER_AFTER_MS: '3000',
    PAYMENT_SIM_LATENCY_MS_MIN: '0',
    PAYMENT_SIM_LATENCY_MS_MAX: '5',
    RELAY_POLL_INTERVAL_MS: '500',
    PG_POOL_SIZE_MAX: '8',
    ...overrides,
  };
}

export function spawnRole(role: string, entry: string, args: string[], env: Record<string, string>): EngineProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', `src/main/${entry}`, ...args], {
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output: string[] = [];
  const keep = (chunk: Buffer) => {
    for (const line of chunk.toString().split('\n')) if (line.length > 0) output.push(line);
    if (output.length > 5_000) output.splice(0, output.length - 5_000);
  };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  if (child.pid === undefined) throw new Error(`${role} did not start`);
  return { role, child, pid: child.pid, output };
}

export function isRunning(process: EngineProcess): boolean {
  return process.child.exitCode === null && process.child.signalCode === null;
}

/** What went wrong with the processes that did not survive: their role, exit and last lines. */
export function deaths(processes: EngineProcess[]): string[] {
  return processes
    .filter((p) => !isRunning(p))
    .map(
      (p) =>
        `${p.role} (pid ${p.pid}) exited code=${p.child.exitCode} signal=${p.child.signalCode}: ${p.output.slice(-5).join(' | ')}`,
    );
}

export async function stopAll(processes: EngineProcess[]): Promise<void> {
  await Promise.all(
    processes.filter(isRunning).map(
      (p) =>
        new Promise<void>((resolve) => {
          const kill = setTimeout(() => p.child.kill('SIGKILL'), 20_000);
          p.child.once('exit', () => {
            clearTimeout(kill);
            resolve();
          });
          p.child.kill('SIGTERM');
        }),
    ),
  );
}

export async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check().catch(() => false)) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

export async function waitReady(apiUrl: string, timeoutMs = 60_000): Promise<void> {
  await waitFor(`${apiUrl}/ready`, async () => (await fetch(`${apiUrl}/ready`)).status === 200, timeoutMs);
}

/** A connection to the server's `postgres` database, from which the faults are injected. */
export async function adminClient(): Promise<pg.Client> {
  const url = Object.assign(new URL(testDatabaseUrl()), { pathname: '/postgres' }).toString();
  const client = new pg.Client({ connectionString: url, application_name: 'resilience-test-admin' });
  client.on('error', () => undefined);
  await client.connect();
  return client;
}

export function testDatabaseName(): string {
  return new URL(testDatabaseUrl()).pathname.slice(1);
}

/** Terminates every backend of the test database (the engine's and this test's own pool). */
export async function terminateAllBackends(admin: pg.Client): Promise<number> {
  const result = await admin.query(
    'SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()',
    [testDatabaseName()],
  );
  return result.rowCount ?? 0;
}

export interface LoadReport {
  /** Every answer's status, by status ('network' when the request itself failed). */
  statuses: Record<string, number>;
  /** user_id of each order placed, so the test finds its orders in the database whatever the answers. */
  userIds: string[];
}

/**
 * Places `count` orders at `ratePerSecond` at most, `concurrency` at a time, each with its own
 * Idempotency-Key; the rate makes the load span the faults on a fast machine too. A 5xx or a
 * network error is retried with the same key, as a client would; a 409 "in progress" is not (the
 * first attempt may have committed). The orders are found afterwards by their user ids.
 */
export async function placeOrders(
  apiUrl: string,
  products: string[],
  load: { count: number; concurrency: number; ratePerSecond: number },
  label: string,
): Promise<LoadReport> {
  const run = randomUUID().slice(0, 8);
  const report: LoadReport = { statuses: {}, userIds: [] };
  const { count, concurrency, ratePerSecond } = load;
  // An admin may place orders for any user id, so each order keeps a user id of its own.
  const authorization = `Bearer ${await tokenFor('resilience-load', 'admin')}`;
  const startedAt = Date.now();
  let next = 0;
  const note = (status: string) => (report.statuses[status] = (report.statuses[status] ?? 0) + 1);
  async function one(n: number): Promise<void> {
    const dueAt = startedAt + (n * 1_000) / ratePerSecond;
    if (dueAt > Date.now()) await new Promise((resolve) => setTimeout(resolve, dueAt - Date.now()));
    const userId = `${label}-${run}-${n}`;
    report.userIds.push(userId);
    const body = JSON.stringify({
      user_id: userId,
      currency: 'USD',
      items: [{ product_id: products[n % products.length]!, quantity: 1 }],
      shipping_address: address,
    });
    for (let attempt = 1; attempt <= 20; attempt++) {
      let status: string;
      try {
        const res = await fetch(`${apiUrl}/api/v1/orders`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'idempotency-key': userId, authorization },
          body,
        });
        await res.arrayBuffer();
        status = String(res.status);
        if (res.status === 503 && res.headers.get('retry-after') === null) status = '503 without Retry-After';
      } catch {
        status = 'network';
      }
      note(status);
      if (status !== 'network' && !status.startsWith('5')) return;
      await new Promise((resolve) => setTimeout(resolve, 250 * attempt));
    }
  }
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < count) await one(next++);
    }),
  );
  return report;
}

/** The ids of the orders those user ids placed, retried through a connection cut. */
export async function orderIdsOf(pool: pg.Pool, userIds: string[]): Promise<string[]> {
  for (let attempt = 1; ; attempt++) {
    try {
      const found = await pool.query<{ id: string }>('SELECT id::text FROM orders WHERE user_id = ANY($1::text[])', [
        userIds,
      ]);
      return found.rows.map((r) => r.id);
    } catch (error) {
      if (attempt >= 10) throw error;
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
  }
}

export interface RunningEngine {
  apiUrl: string;
  processes: EngineProcess[];
  /** Each process's pid at start: the same ones must be running at the end. */
  pids: number[];
}

/** Spawns every role (api, three workers, relay, notifications) and waits for the API's /ready. */
export async function startEngineProcesses(
  overrides: Record<string, string>,
  into: EngineProcess[],
  roleEnv: Record<string, Record<string, string>> = {},
): Promise<RunningEngine> {
  const port = await freePort();
  const env = processEnv({ ...overrides, HTTP_PORT: String(port) });
  for (const { role, entry, args } of engineRoles)
    into.push(spawnRole(role, entry, args, { ...env, ...roleEnv[role] }));
  const apiUrl = `http://127.0.0.1:${port}`;
  await waitReady(apiUrl);
  return { apiUrl, processes: into, pids: into.map((p) => p.pid) };
}

/**
 * The acceptance every fault test shares: no POST answered 500, the orders the load placed are (nearly) all there,
 * every one reaches a final state, the invariants hold, and no process died or was replaced.
 */
export async function expectSurvivedAndSettled(
  pool: pg.Pool,
  engine: RunningEngine,
  load: LoadReport,
  ordersTotal: number,
  finalTimeoutMs: number,
): Promise<void> {
  // A fault is answered 2xx, or 503 with Retry-After; never 500 (a bug), never a 503 without a hint.
  expect(load.statuses['500'] ?? 0).toBe(0);
  expect(load.statuses['503 without Retry-After'] ?? 0).toBe(0);
  const ids = await orderIdsOf(pool, load.userIds);
  expect(ids.length).toBeGreaterThanOrEqual(ordersTotal * 0.9);
  expect(await waitUntilFinal(pool, ids, finalTimeoutMs)).toEqual([]);
  const invariants = await checkInvariants(pool, ids);
  expect(invariants.violations).toEqual([]);
  expect(invariants.byStatus.confirmed ?? 0).toBeGreaterThan(0);
  expect(deaths(engine.processes)).toEqual([]);
  expect(engine.processes.filter(isRunning).map((p) => p.pid)).toEqual(engine.pids);
}
