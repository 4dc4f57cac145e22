// The outbox and inbox tables: written in the same transaction as the state change they belong to.
// Set-based: a batch of messages is one inbox statement and one outbox statement, whatever its size.
// On the hot path a queue row has two writers, one after the other: its sender inserts it, its
// receiver marks it processed with its inbox row. Nobody else writes it while it flows.
import type { Client, Queryable } from '../platform/db.ts';
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
 * The outbox insert over a jsonb parameter (`outboxRowsOf`), for a caller that writes its own
 * state and its messages in one statement (`condition`: rows are written only when it holds). A message id already in the outbox is skipped (the
 * same deterministic message sent twice is one message); RETURNING gives the rows inserted. A row
 * with a delay is a timer: due_at is when the sweeper may deliver it.
 */
export function outboxInsertSql(parameter: string, condition = 'true'): string {
  return `INSERT INTO outbox (message_id, destination, key, type, payload, headers, delay_ms, due_at)
     SELECT m.message_id, m.destination, m.key, m.type, m.payload, m.headers, m.delay_ms,
            now() + make_interval(secs => m.delay_ms::double precision / 1000)
       FROM jsonb_to_recordset(${parameter}::jsonb) AS m(message_id text, destination text, key text, type text,
            payload jsonb, headers jsonb, delay_ms integer)
      WHERE ${condition}
     ON CONFLICT (message_id) DO NOTHING
     RETURNING ${outboxRowColumns}`;
}

/** The messages as the jsonb parameter of outboxInsertSql. */
export function outboxRowsOf(messages: OutgoingMessage[]): string {
  return JSON.stringify(
    messages.map((m) => ({
      message_id: m.messageId,
      destination: m.destination,
      key: m.orderId,
      type: m.type,
      payload: m.payload,
      headers: { 'correlation-id': m.correlationId, ...m.headers },
      delay_ms: m.delayMs ?? 0,
    })),
  );
}

/** Inserts one row per message, in one statement. Returns the rows actually inserted. */
export async function insertOutbox(client: Client, messages: OutgoingMessage[]): Promise<OutboxRow[]> {
  if (messages.length === 0) return [];
  const result = await client.query<OutboxRow>({
    name: 'outbox-insert',
    text: outboxInsertSql('$1'),
    values: [outboxRowsOf(messages)],
  });
  return result.rows;
}

/**
 * Records that `consumer` processed each of `messageIds`, and marks their outbox rows processed,
 * in one round trip. Returns the ids claimed now: an id missing from the answer was processed
 * before, and its caller changes nothing for it. Ids are inserted in sorted order, so two batches
 * that share ids wait on each other in one order and never deadlock.
 */
export async function claimInboxBatch(client: Client, consumer: string, messageIds: string[]): Promise<Set<string>> {
  if (messageIds.length === 0) return new Set();
  const result = await client.query<{ message_id: string }>({
    name: 'inbox-claim',
    text: `WITH claimed AS (
       INSERT INTO inbox (consumer, message_id)
       SELECT $1, m FROM unnest($2::text[]) AS m ORDER BY m
       ON CONFLICT DO NOTHING RETURNING message_id),
     marked AS (
       UPDATE outbox SET processed_at = now()
        WHERE message_id IN (SELECT message_id FROM claimed)
          AND destination = 'queue:' || $1 AND processed_at IS NULL)
     SELECT message_id FROM claimed`,
    values: [consumer, [...new Set(messageIds)]],
  });
  return new Set(result.rows.map((r) => r.message_id));
}

/**
 * A fragment for a module that reads, in a statement of its own, which of its messages it has
 * processed: the message ids among `idsExpression` with an inbox row of `consumerExpression`.
 */
export function inboxHandledSql(consumerExpression: string, idsExpression: string): string {
  return `SELECT message_id FROM inbox WHERE consumer = ${consumerExpression} AND message_id IN (${idsExpression})`;
}

/** One message: true when claimed now, false when `consumer` had processed it before. */
export async function claimInbox(client: Client, consumer: string, messageId: string): Promise<boolean> {
  return (await claimInboxBatch(client, consumer, [messageId])).has(messageId);
}

/**
 * Withdraws timers that no longer matter (the order left the states that wait for them): their
 * rows count as processed, so the sweeper never delivers them. A timer already handed over is
 * delivered anyway, and its receiver ignores it; withdrawing only spares that work.
 */
export async function withdrawScheduled(client: Client, messageIds: string[]): Promise<void> {
  if (messageIds.length === 0) return;
  await client.query({
    name: 'outbox-withdraw',
    text: `UPDATE outbox SET processed_at = now()
            WHERE message_id = ANY($1::text[]) AND delay_ms > 0 AND processed_at IS NULL`,
    values: [messageIds],
  });
}

/**
 * True when `consumer` already processed the message. Read before calling the provider, so a
 * redelivered job makes no provider call at all (the inbox claim is still the guard).
 */
export async function alreadyHandled(db: Queryable, consumer: string, messageId: string): Promise<boolean> {
  const result = await db.query({
    name: 'inbox-seen',
    text: `SELECT 1 FROM inbox WHERE consumer = $1 AND message_id = $2`,
    values: [consumer, messageId],
  });
  return (result.rowCount ?? 0) > 0;
}

/** A job that ended failed (its attempts exhausted, or a permanent error), as dead_letters keeps it. */
export interface DeadLetterInput {
  queue: string;
  jobId: string;
  messageId: string | null;
  data: unknown;
  error: string;
  attempts: number;
}

/** Records a dead letter once per (queue, job id): a second record of the same job changes nothing. */
export async function insertDeadLetter(db: Queryable, letter: DeadLetterInput): Promise<void> {
  await db.query(
    `INSERT INTO dead_letters (queue, job_id, message_id, data, error, attempts)
     VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (queue, job_id) DO NOTHING`,
    [letter.queue, letter.jobId, letter.messageId, letter.data, letter.error, letter.attempts],
  );
}

/**
 * Deletes the order's dead letters whose message its consumer has settled (an escalated undo is
 * claimed in its inbox): nothing is left to redrive once an operator resolved the order. Returns
 * the message ids dropped.
 */
export async function dropSettledDeadLetters(client: Client, orderId: string): Promise<string[]> {
  const result = await client.query<{ message_id: string }>(
    `DELETE FROM dead_letters d
      WHERE d.message_id LIKE $1 || '.%'
        AND EXISTS (SELECT 1 FROM inbox i WHERE i.consumer = d.queue AND i.message_id = d.message_id)
      RETURNING d.message_id`,
    [orderId],
  );
  return result.rows.map((r) => r.message_id);
}

export interface SweepLimits {
  /** A command or answer still unprocessed this long after it was due was never handed over. */
  sweepAgeMs: number;
  /** A row handed over this long ago and still unprocessed lost its job (Redis lost its data, say). */
  redeliverAfterMs: number;
  /**
   * Rows handed over before this moment (the database's clock) are handed over again now, however
   * recently: BullMQ's Redis (re)connected since, and may have come back without their jobs.
   */
  redeliverBefore?: Date | null;
  limit: number;
}

/**
 * Queue rows to hand over (again), locked until the transaction ends: timers that are due,
 * commands and answers that the fast path did not hand over (a crash between commit and dispatch,
 * a Redis blip), and rows handed over long ago, or before Redis last (re)connected, whose job never
 * ran. Handing over a row whose job still exists adds nothing (the jobId is the message id). SKIP
 * LOCKED lets sweepers share the work and never waits on a receiver that is marking a row processed.
 */
export async function claimRowsToSweep(client: Client, limits: SweepLimits): Promise<OutboxRow[]> {
  const result = await client.query<OutboxRow>({
    name: 'outbox-sweep',
    text: `SELECT ${outboxRowColumns}
       FROM outbox
      WHERE processed_at IS NULL AND parked_at IS NULL AND destination LIKE 'queue:%'
        AND due_at <= now()
        AND CASE WHEN swept_at IS NULL
                 THEN delay_ms > 0 OR due_at < now() - make_interval(secs => $1::double precision / 1000)
                 ELSE swept_at < greatest(now() - make_interval(secs => $2::double precision / 1000),
                                          $4::timestamptz) END
      ORDER BY due_at
      LIMIT $3
      FOR UPDATE SKIP LOCKED`,
    values: [limits.sweepAgeMs, limits.redeliverAfterMs, limits.limit, limits.redeliverBefore ?? null],
  });
  return result.rows;
}

/** Records that the sweeper handed these rows over, so it waits redeliverAfterMs before the next try. */
export async function markSwept(client: Client, ids: string[]): Promise<void> {
  if (ids.length === 0) return;
  await client.query(`UPDATE outbox SET swept_at = now() WHERE id = ANY($1::bigint[])`, [ids]);
}

/**
 * Deletes delivered rows older than the retention, oldest first, at most batchMax per call: a
 * Kafka row once published, a queue row once its receiver processed it. Never touches a row that
 * is not delivered yet.
 */
export async function pruneDelivered(db: Queryable, retentionMs: number, batchMax: number): Promise<number> {
  const result = await db.query(
    `DELETE FROM outbox WHERE id IN (
       SELECT id FROM outbox
        WHERE created_at < now() - make_interval(secs => $1::double precision / 1000)
          AND CASE WHEN destination LIKE 'kafka:%'
                   THEN published_at < now() - make_interval(secs => $1::double precision / 1000)
                   ELSE processed_at < now() - make_interval(secs => $1::double precision / 1000) END
        ORDER BY created_at LIMIT $2)`,
    [retentionMs, batchMax],
  );
  return result.rowCount ?? 0;
}
