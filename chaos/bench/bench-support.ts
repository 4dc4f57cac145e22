// Shared pieces of the benchmarks: the bench database, percentiles, a seeded random source, and
// a polling wait with a bound.
import pg from 'pg';
import { createPool, type Pool } from '../../src/platform/db.ts';
import { migrate } from '../../src/platform/migrate.ts';

export function benchDatabaseUrl(name: string): string {
  const url = new URL(process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/order_engine');
  url.pathname = `/${name}`;
  return url.toString();
}

/**
 * The database a benchmark may wipe: DATABASE_URL when its name says "bench" (oe_bench), otherwise
 * order_engine_bench on the same server. Never another database.
 */
export function wipeableBenchDatabaseUrl(): string {
  const given = process.env.DATABASE_URL;
  if (given !== undefined && new URL(given).pathname.includes('bench')) return given;
  return benchDatabaseUrl('order_engine_bench');
}

/** The same server's maintenance database: for CREATE DATABASE, and for statistics reads that must not count. */
export function maintenanceUrl(url: string): string {
  return Object.assign(new URL(url), { pathname: '/postgres' }).toString();
}

/** Drops and recreates the database's schema, then migrates it. Only for a database named *bench*. */
export async function freshDatabase(url: string): Promise<Pool> {
  const name = new URL(url).pathname.slice(1);
  if (!name.includes('bench')) throw new Error(`refusing to wipe ${name}: a bench database's name contains "bench"`);
  const admin = new pg.Client({ connectionString: maintenanceUrl(url) });
  await admin.connect();
  const exists = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
  if (exists.rowCount === 0) await admin.query(`CREATE DATABASE "${name}"`);
  await admin.end();
  const pool = createPool({ connectionString: url, poolSizeMax: 8, statementTimeoutMs: 600_000 });
  await pool.query('DROP SCHEMA public CASCADE; CREATE SCHEMA public;');
  await migrate(pool);
  return pool;
}

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

export function median(values: number[]): number {
  return percentile(
    [...values].sort((a, b) => a - b),
    50,
  );
}

export interface Percentiles {
  count: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
}

/** p50/p95/p99/max of the values, rounded to 0.1 ms; NaN when there are none. */
export function percentilesOf(values: number[]): Percentiles {
  const sorted = [...values].sort((a, b) => a - b);
  const round = (v: number) => Math.round(v * 10) / 10;
  return {
    count: sorted.length,
    p50: round(percentile(sorted, 50)),
    p95: round(percentile(sorted, 95)),
    p99: round(percentile(sorted, 99)),
    max: round(sorted[sorted.length - 1] ?? Number.NaN),
  };
}

export function progress(line: string): void {
  process.stdout.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${line}\n`);
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Polls `done` every `intervalMs` until it holds or `timeoutMs` passes; returns whether it held. */
export async function pollUntil(done: () => Promise<boolean>, timeoutMs: number, intervalMs = 250): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await done()) return true;
    if (Date.now() >= deadline) return false;
    await sleep(intervalMs);
  }
}

/** mulberry32: a small seeded generator, so a run's choice of products replays. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}
