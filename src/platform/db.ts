// PostgreSQL pool and the transaction helper. Every write of the engine goes through withTransaction.
import pg from 'pg';

export type Pool = pg.Pool;
export type Client = pg.PoolClient;
/** Anything that runs a query: the pool, or a client inside a transaction. */
export type Queryable = Pool | Client;
export type Isolation = 'read committed' | 'repeatable read' | 'serializable';

export interface PoolOptions {
  connectionString: string;
  poolSizeMax: number;
  statementTimeoutMs: number;
  applicationName?: string;
}

// NUMERIC arrives as a string (never a float); BIGINT (20) too, since counts can pass 2^53.
pg.types.setTypeParser(pg.types.builtins.NUMERIC, (v) => v);

export function createPool(options: PoolOptions): Pool {
  const pool = new pg.Pool({
    connectionString: options.connectionString,
    max: options.poolSizeMax,
    connectionTimeoutMillis: 5_000,
    idleTimeoutMillis: 30_000,
    statement_timeout: options.statementTimeoutMs,
    application_name: options.applicationName ?? 'order-engine',
  });
  // An idle client losing its connection must not crash the process; the next query reconnects.
  pool.on('error', () => undefined);
  return pool;
}

export interface TransactionOptions {
  isolation?: Isolation;
  attemptsMax?: number;
  backoffMs?: number;
}

const retryableCodes = new Set(['40001', '40P01']); // serialization_failure, deadlock_detected

export function isRetryable(error: unknown): boolean {
  return typeof error === 'object' && error !== null && retryableCodes.has(String((error as { code?: unknown }).code));
}

/**
 * Runs fn in one transaction. A serialization failure or deadlock rolls back and runs fn again,
 * at most attemptsMax times, after a jittered exponential backoff. fn must therefore be
 * free of side effects outside the transaction.
 */
export async function withTransaction<T>(
  pool: Pool,
  fn: (client: Client) => Promise<T>,
  options: TransactionOptions = {},
): Promise<T> {
  const isolation = options.isolation ?? 'read committed';
  const attemptsMax = options.attemptsMax ?? 5;
  const backoffMs = options.backoffMs ?? 20;
  for (let attempt = 1; ; attempt++) {
    const client = await pool.connect();
    try {
      await client.query(`BEGIN ISOLATION LEVEL ${isolation.toUpperCase()}`);
      const result = await fn(client);
      await client.query('COMMIT');
      return result;
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      if (!isRetryable(error) || attempt >= attemptsMax) throw error;
      await sleep(backoffMs * 2 ** (attempt - 1) * (0.5 + Math.random()));
    } finally {
      client.release();
    }
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
