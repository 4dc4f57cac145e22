// Shared pieces of the benchmarks: a fresh database, the engine as a child process, percentiles.
import { spawn, type ChildProcess } from 'node:child_process';
import pg from 'pg';
import { createPool, type Pool } from '../../src/platform/db.ts';
import { migrate } from '../../src/platform/migrate.ts';

export function benchDatabaseUrl(name: string): string {
  const url = new URL(process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/order_engine');
  url.pathname = `/${name}`;
  return url.toString();
}

/** Drops and recreates the database's schema, then migrates it. */
export async function freshDatabase(url: string): Promise<Pool> {
  const admin = new pg.Client({ connectionString: Object.assign(new URL(url), { pathname: '/postgres' }).toString() });
  await admin.connect();
  const name = new URL(url).pathname.slice(1);
  const exists = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
  if (exists.rowCount === 0) await admin.query(`CREATE DATABASE "${name}"`);
  await admin.end();
  const pool = createPool({ connectionString: url, poolSizeMax: 8, statementTimeoutMs: 600_000 });
  await pool.query('DROP SCHEMA public CASCADE; CREATE SCHEMA public;');
  await migrate(pool);
  return pool;
}

export function startProcess(entry: string, env: Record<string, string>): ChildProcess {
  // BENCH_NODE_ARGS passes flags to the engine process, e.g. --cpu-prof to profile it.
  const extra = (process.env.BENCH_NODE_ARGS ?? '').split(' ').filter((a) => a.length > 0);
  return spawn(process.execPath, [...extra, '--import', 'tsx', entry], {
    env: { ...process.env, LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
}

export async function waitForHttp(url: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      if ((await fetch(url)).ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error(`${url} did not answer within ${timeoutMs} ms`);
}

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

export function median(values: number[]): number {
  return percentile(
    [...values].sort((a, b) => a - b),
    50,
  );
}

export function progress(line: string): void {
  process.stdout.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${line}\n`);
}
