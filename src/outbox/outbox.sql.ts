// The outbox and inbox tables: written in the same transaction as the state change they belong to.
import type { Client, Pool } from '../platform/db.ts';
import type { OutgoingMessage } from '../../queues/message.ts';

/** The columns of an OutboxRow, for every statement that reads rows to hand over. */
export const outboxRowColumns = 'id, message_id, destination, key, type, payload, headers, delay_ms, created_at';

export interface OutboxRow {
  id: string;
  message_id: string;
  destination: string;
  key: string;
  type: string;
  payload: Record<string, unknown>;
  headers: Record<string, string>;
  delay_ms: number;
  created_at: Date;
}

/**
 * Inserts one row per message. A message id already in the outbox is skipped (the same
 * deterministic message sent twice is one message). Returns the rows actually inserted.
 */
export async function insertOutbox(client: Client, messages: OutgoingMessage[]): Promise<OutboxRow[]> {
  if (messages.length === 0) return [];
  const result = await client.query<OutboxRow>(
    `INSERT INTO outbox (message_id, destination, key, type, payload, headers, delay_ms)
     SELECT m.message_id, m.destination, m.key, m.type, m.payload, m.headers, m.delay_ms
       FROM jsonb_to_recordset($1::jsonb) AS m(message_id text, destination text, key text, type text,
            payload jsonb, headers jsonb, delay_ms integer)
     ON CONFLICT (message_id) DO NOTHING
     RETURNING id, message_id, destination, key, type, payload, headers, delay_ms, created_at`,
    [
      JSON.stringify(
        messages.map((m) => ({
          message_id: m.messageId,
          destination: m.destination,
          key: m.orderId,
          type: m.type,
          payload: m.payload,
          headers: { 'correlation-id': m.correlationId, ...m.headers },
          delay_ms: m.delayMs ?? 0,
        })),
      ),
    ],
  );
  return result.rows;
}

/**
 * Records that `consumer` processed `messageId`, and marks the message's outbox row processed.
 * Returns false when it already had: the caller then changes nothing. Runs inside the
 * transaction that makes the effect, in one round trip.
 */
export async function claimInbox(client: Client, consumer: string, messageId: string): Promise<boolean> {
  const result = await client.query<{ claimed: boolean }>(
    `WITH claimed AS (
       INSERT INTO inbox (consumer, message_id) VALUES ($1, $2) ON CONFLICT DO NOTHING RETURNING 1),
     marked AS (
       UPDATE outbox SET processed_at = now()
        WHERE message_id = $2 AND destination = 'queue:' || $1 AND processed_at IS NULL
          AND EXISTS (SELECT 1 FROM claimed))
     SELECT EXISTS (SELECT 1 FROM claimed) AS claimed`,
    [consumer, messageId],
  );
  return result.rows[0]?.claimed === true;
}

/**
 * True when `consumer` already processed the message. Read before calling the provider, so a
 * redelivered job makes no provider call at all (handleOnce's inbox claim is still the guard).
 */
export async function alreadyHandled(pool: Pool, consumer: string, messageId: string): Promise<boolean> {
  const result = await pool.query(`SELECT 1 FROM inbox WHERE consumer = $1 AND message_id = $2`, [consumer, messageId]);
  return (result.rowCount ?? 0) > 0;
}

/** Marks queue rows as handed to BullMQ. Only rows not yet marked change. */
export async function markDispatched(pool: Pool, ids: string[]): Promise<void> {
  if (ids.length === 0) return;
  await pool.query(`UPDATE outbox SET dispatched_at = now() WHERE id = ANY($1::bigint[]) AND dispatched_at IS NULL`, [
    ids,
  ]);
}

/**
 * Queue rows handed to BullMQ but not processed redeliverAfterMs after they were due (their job
 * lost with Redis' data, say). Re-adding under the same jobId is a no-op while the job still
 * exists, and the receiver's inbox drops a second processing.
 */
export async function claimUnprocessedQueueRows(
  client: Client,
  redeliverAfterMs: number,
  limit: number,
): Promise<OutboxRow[]> {
  const result = await client.query<OutboxRow>(
    `SELECT ${outboxRowColumns}
       FROM outbox
      WHERE processed_at IS NULL AND parked_at IS NULL AND destination LIKE 'queue:%'
        AND dispatched_at < now() - make_interval(secs => $1::double precision / 1000)
        AND created_at + make_interval(secs => delay_ms::double precision / 1000)
            < now() - make_interval(secs => $1::double precision / 1000)
      ORDER BY id
      LIMIT $2
      FOR UPDATE SKIP LOCKED`,
    [redeliverAfterMs, limit],
  );
  return result.rows;
}

/**
 * Queue rows that the fast path left behind (a crash between commit and dispatch, a Redis
 * blip), older than ageMs. SKIP LOCKED lets two sweepers share the work.
 */
export async function claimUndispatchedQueueRows(client: Client, ageMs: number, limit: number): Promise<OutboxRow[]> {
  const result = await client.query<OutboxRow>(
    `SELECT ${outboxRowColumns}
       FROM outbox
      WHERE dispatched_at IS NULL AND parked_at IS NULL AND destination LIKE 'queue:%'
        AND created_at < now() - make_interval(secs => $1::double precision / 1000)
      ORDER BY id
      LIMIT $2
      FOR UPDATE SKIP LOCKED`,
    [ageMs, limit],
  );
  return result.rows;
}
