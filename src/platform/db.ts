// PostgreSQL pool and the transaction helper. Every write of the engine goes through withTransaction.
import pg from 'pg';
import { outages } from './outage.ts';

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
    // A peer that vanished without a FIN (a host down, a cable cut) is noticed, not waited on.
    keepAlive: true,
  });
  // An idle client losing its connection (pg_terminate_backend, a server restart) must not crash
  // the process: the pool drops it and the next query opens a new one. It is not an outage yet:
  // only a failed connect or statement says the server is away (withTransaction reports those).
  pool.on('error', () => undefined);
  pool.on('connect', (client) => {
    // A client the pool hands out is covered by withTransaction while checked out; this covers a
    // gap pg-pool leaves between connect and checkout, so no 'error' event ever goes unheard.
    client.on('error', () => undefined);
    outages.up('postgres');
  });
  return pool;
}

export interface TransactionOptions {
  isolation?: Isolation;
  /** Attempts after a serialization failure or deadlock. */
  attemptsMax?: number;
  backoffMs?: number;
  /** Attempts after a lost connection (the transaction rolled back); the job retries beyond this. */
  connectionAttemptsMax?: number;
  connectionBackoffMs?: number;
  connectionBackoffMsMax?: number;
}

const retryableCodes = new Set(['40001', '40P01']); // serialization_failure, deadlock_detected

export function isRetryable(error: unknown): boolean {
  return typeof error === 'object' && error !== null && retryableCodes.has(String((error as { code?: unknown }).code));
}

// SQLSTATE class 08 is connection_exception; 57P01-57P03 are admin_shutdown, crash_shutdown and
// cannot_connect_now (a server starting or stopping). The rest are socket errors from Node.
const connectionCodes = new Set(['57P01', '57P02', '57P03', 'ECONNRESET', 'ECONNREFUSED', 'EPIPE', 'ETIMEDOUT']);
const connectionCodesMore = new Set(['ENOTFOUND', 'EHOSTUNREACH', 'ENETUNREACH', 'ECONNABORTED', 'EAI_AGAIN']);
// node-postgres raises these without a code.
const connectionMessages = [
  'Connection terminated',
  'Client has encountered a connection error',
  'timeout exceeded when trying to connect',
  'Client was closed and is not queryable',
];

/** The connection to PostgreSQL broke or could not be made: the server, not the statement, failed. */
export function isConnectionError(error: unknown): boolean {
  for (let e = error, depth = 0; typeof e === 'object' && e !== null && depth < 5; depth++) {
    const code = String((e as { code?: unknown }).code ?? '');
    if (code.startsWith('08') || connectionCodes.has(code) || connectionCodesMore.has(code)) return true;
    const message = String((e as { message?: unknown }).message ?? '');
    if (connectionMessages.some((m) => message.includes(m))) return true;
    e = (e as { cause?: unknown }).cause;
  }
  return false;
}

/** The connection broke while COMMIT was on the wire: the transaction may or may not have committed. */
export class CommitOutcomeUnknownError extends Error {
  override name = 'CommitOutcomeUnknownError';
  constructor(override readonly cause: unknown) {
    super(`connection lost during COMMIT; the outcome is unknown: ${(cause as Error)?.message ?? String(cause)}`);
  }
}

function jittered(ms: number): number {
  return ms * (0.5 + Math.random());
}

/**
 * Runs fn in one transaction. A serialization failure or deadlock rolls back and runs fn again,
 * at most attemptsMax times, after a jittered exponential backoff. A connection lost before
 * COMMIT means PostgreSQL rolled the transaction back, so fn runs again on a new connection, at
 * most connectionAttemptsMax times. A connection lost during COMMIT is ambiguous and is thrown as
 * CommitOutcomeUnknownError: the caller's retry (a job, whose inbox row makes a second run change
 * nothing) decides. fn must therefore be free of side effects outside the transaction.
 */
export async function withTransaction<T>(
  pool: Pool,
  fn: (client: Client) => Promise<T>,
  options: TransactionOptions = {},
): Promise<T> {
  const isolation = options.isolation ?? 'read committed';
  const attemptsMax = options.attemptsMax ?? 5;
  const backoffMs = options.backoffMs ?? 20;
  const connectionAttemptsMax = options.connectionAttemptsMax ?? 8;
  const connectionBackoffMs = options.connectionBackoffMs ?? 100;
  const connectionBackoffMsMax = options.connectionBackoffMsMax ?? 2_000;
  let conflicts = 0;
  let connectionFailures = 0;
  for (;;) {
    const outcome = await attemptTransaction(pool, fn, isolation);
    if (outcome.ok) return outcome.value;
    const { error } = outcome;
    if (outcome.connectionLost) {
      outages.down('postgres', error);
      connectionFailures += 1;
      if (outcome.duringCommit) throw new CommitOutcomeUnknownError(error);
      if (connectionFailures >= connectionAttemptsMax) throw error;
      await sleep(jittered(Math.min(connectionBackoffMs * 2 ** (connectionFailures - 1), connectionBackoffMsMax)));
      continue;
    }
    conflicts += 1;
    if (!isRetryable(error) || conflicts >= attemptsMax) throw error;
    await sleep(jittered(backoffMs * 2 ** (conflicts - 1)));
  }
}

type Attempt<T> =
  { ok: true; value: T } | { ok: false; error: unknown; connectionLost: boolean; duringCommit: boolean };

async function attemptTransaction<T>(
  pool: Pool,
  fn: (client: Client) => Promise<T>,
  isolation: Isolation,
): Promise<Attempt<T>> {
  let client: Client;
  try {
    client = await pool.connect();
  } catch (error) {
    return { ok: false, error, connectionLost: isConnectionError(error), duringCommit: false };
  }
  // A checked-out client has no listener of the pool's: without this one, a connection cut while
  // fn awaits something else (Kafka, Redis) is an unhandled 'error' event, and the process dies.
  let lost: unknown = null;
  const onError = (error: unknown) => {
    lost = error;
  };
  client.on('error', onError);
  let committing = false;
  let broken: Error | undefined;
  try {
    await client.query(`BEGIN ISOLATION LEVEL ${isolation.toUpperCase()}`);
    const value = await fn(client);
    // A connection already lost never carried the COMMIT: the server rolled back, so it is no
    // ambiguous commit, and fn may run again.
    committing = lost === null;
    await client.query('COMMIT');
    outages.up('postgres');
    return { ok: true, value };
  } catch (error) {
    // A connection error that is not this client's (Kafka or Redis refused while fn awaited them)
    // leaves the connection working: the ROLLBACK answers, and the error goes to the caller as is.
    const connectionLost =
      lost !== null ||
      (await client.query('ROLLBACK').then(
        () => false,
        (rollbackError: unknown) => isConnectionError(error) || isConnectionError(rollbackError),
      ));
    if (connectionLost) broken = error instanceof Error ? error : new Error(String(error));
    return { ok: false, error, connectionLost, duringCommit: committing && connectionLost };
  } finally {
    client.removeListener('error', onError);
    // A broken client is destroyed, not put back in the pool.
    client.release(broken);
  }
}

/** One round trip to the server, for /ready: it answers, whatever the tables hold. */
export async function pingDatabase(pool: Pool): Promise<void> {
  await pool.query('SELECT 1');
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
