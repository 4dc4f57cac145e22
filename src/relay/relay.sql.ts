// The relay's statements over the outbox. Order per key holds because every row of a key falls
// in one partition (hash of the key), and one relay at a time works a partition (an advisory
// lock taken in the claiming statement). Within a partition rows leave in id order, and per
// key the id order is the commit order: the order actor writes a key's rows under its row lock.
import type { Client, Pool } from '../platform/db.ts';
import { outboxRowColumns, type OutboxRow } from '../messaging/outbox.sql.ts';

const relayLockNamespace = 727_003;

export interface ClaimedBatch {
  /** Partitions this transaction now owns until it ends (0: other relays hold them all). */
  locked: number;
  rows: OutboxRow[];
}

/**
 * In one statement: takes every partition no other relay holds (advisory locks that last until
 * the transaction ends), then locks and returns the oldest unpublished, unparked Kafka rows of
 * those partitions. One transaction a run, whatever the partition count.
 */
export async function claimKafkaBatch(client: Client, partitions: number, limit: number): Promise<ClaimedBatch> {
  const result = await client.query<OutboxRow & { locked: number }>({
    name: 'relay-claim',
    text: `WITH locked AS MATERIALIZED (
         SELECT p FROM generate_series(0, $1::int - 1) AS p WHERE pg_try_advisory_xact_lock(${relayLockNamespace}, p)),
       claimed AS (
         SELECT ${outboxRowColumns}
           FROM outbox
          WHERE published_at IS NULL AND parked_at IS NULL AND destination LIKE 'kafka:%'
            AND mod(abs(hashtext(key)::bigint), $1::int) IN (SELECT p FROM locked)
          ORDER BY id
          LIMIT $2
          FOR UPDATE)
     SELECT (SELECT count(*)::int FROM locked) AS locked, claimed.*
       FROM (SELECT 1) AS one LEFT JOIN claimed ON true`,
    values: [partitions, limit],
  });
  const locked = result.rows[0]?.locked ?? 0;
  const rows = result.rows.filter((r) => r.id !== null).map(({ locked: _, ...row }) => row as OutboxRow);
  return { locked, rows };
}

export async function markPublished(client: Client, ids: string[]): Promise<void> {
  await client.query(`UPDATE outbox SET published_at = now() WHERE id = ANY($1::bigint[])`, [ids]);
}

/** Counts a failed publish of one row; at attemptsMax the row is parked. Returns true if parked. */
export async function recordPublishFailure(
  client: Client,
  id: string,
  error: string,
  attemptsMax: number,
): Promise<boolean> {
  const result = await client.query<{ parked: boolean }>(
    `UPDATE outbox SET attempts = attempts + 1, last_error = left($2, 2000),
            parked_at = CASE WHEN attempts + 1 >= $3 THEN now() END
      WHERE id = $1 RETURNING parked_at IS NOT NULL AS parked`,
    [id, error, attemptsMax],
  );
  return result.rows[0]?.parked === true;
}

export interface ParkedRow {
  id: string;
  message_id: string;
  destination: string;
  key: string;
  type: string;
  attempts: number;
  last_error: string | null;
  parked_at: Date;
}

export async function listParked(pool: Pool, limit = 100): Promise<ParkedRow[]> {
  const result = await pool.query<ParkedRow>(
    `SELECT id, message_id, destination, key, type, attempts, last_error, parked_at
       FROM outbox WHERE parked_at IS NOT NULL ORDER BY id LIMIT $1`,
    [limit],
  );
  return result.rows;
}

/** Puts parked rows back in line (all of them when ids is empty). Returns how many. */
export async function replayParked(pool: Pool, ids: string[]): Promise<number> {
  const result = await pool.query(
    `UPDATE outbox SET parked_at = NULL, attempts = 0
      WHERE parked_at IS NOT NULL AND (cardinality($1::bigint[]) = 0 OR id = ANY($1::bigint[]))`,
    [ids],
  );
  return result.rowCount ?? 0;
}
