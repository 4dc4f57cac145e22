// Reads of the messaging module's tables (outbox, dead_letters) for the other modules: the
// operator's view of one order's messages, and the gauges of the outbox and the dead letters.
// Nothing here writes. An order's messages are found by the message-id prefix every message of an
// order carries (`${orderId}.${type}`), over the unique index on message_id; each read is bounded.
import type { Queryable } from '../platform/db.ts';

export interface OutboxFact {
  id: string;
  message_id: string;
  destination: string;
  type: string;
  created_at: Date;
  due_at: Date;
  /** A Kafka row: when the relay published it. */
  published_at: Date | null;
  /** A queue row: when the sweeper last handed it over. */
  swept_at: Date | null;
  processed_at: Date | null;
  parked_at: Date | null;
  attempts: number;
  last_error: string | null;
}

const messagesOf = `message_id >= $1 || '.' AND message_id < $1 || '/'`;

/**
 * Every outbox row of the order (still kept: delivered rows are pruned after retention), oldest
 * first by the table's bigint id, not the text `id` the rows carry out.
 */
export async function outboxOfOrder(db: Queryable, orderId: string): Promise<OutboxFact[]> {
  const result = await db.query<OutboxFact>(
    `SELECT id::text, message_id, destination, type, created_at, due_at, published_at, swept_at, processed_at, parked_at,
            attempts, last_error
       FROM outbox WHERE ${messagesOf} ORDER BY outbox.id LIMIT 500`,
    [orderId],
  );
  return result.rows;
}

/** A queue row its receiver still owes: sent, not processed, not parked. */
export function isAwaited(row: OutboxFact): boolean {
  return row.destination.startsWith('queue:') && row.processed_at === null && row.parked_at === null;
}

/** The queue messages each order still waits for: sent, not yet processed. */
export async function awaitedMessages(db: Queryable, orderIds: string[]): Promise<Map<string, OutboxFact[]>> {
  const byOrder = new Map<string, OutboxFact[]>();
  for (const orderId of orderIds) byOrder.set(orderId, (await outboxOfOrder(db, orderId)).filter(isAwaited));
  return byOrder;
}

export interface DeadLetterFact {
  id: string;
  queue: string;
  job_id: string;
  message_id: string | null;
  error: string;
  attempts: number;
  created_at: Date;
}

export async function deadLettersOfOrder(db: Queryable, orderId: string): Promise<DeadLetterFact[]> {
  const result = await db.query<DeadLetterFact>(
    `SELECT id::text, queue, job_id, message_id, error, attempts, created_at
       FROM dead_letters WHERE ${messagesOf} ORDER BY dead_letters.id LIMIT 100`,
    [orderId],
  );
  return result.rows;
}

/** Dead letters per queue (queues with none are absent). */
export async function deadLettersByQueue(db: Queryable): Promise<Map<string, number>> {
  const result = await db.query<{ queue: string; n: string }>(
    `SELECT queue, count(*) AS n FROM dead_letters GROUP BY queue`,
  );
  return new Map(result.rows.map((r) => [r.queue, Number(r.n)]));
}

export interface OutboxBacklog {
  /** Undelivered rows and the age in seconds of the oldest (0 when none), per destination kind. */
  depth: Record<'queue' | 'kafka', { rows: number; oldestAgeSeconds: number }>;
  parked: number;
}

/**
 * What the outbox still owes, each part over a small partial index: a queue row its receiver has
 * not processed (and that is due: a timer waits), a Kafka row the relay has not published, and
 * the rows parked after too many refusals.
 */
export async function outboxBacklog(db: Queryable): Promise<OutboxBacklog> {
  const [undelivered, parked] = await Promise.all([
    db.query<{ destination: string; n: string; age: string | null }>(
      `SELECT 'queue' AS destination, count(*) AS n, extract(epoch FROM now() - min(due_at)) AS age
         FROM outbox WHERE processed_at IS NULL AND parked_at IS NULL AND destination LIKE 'queue:%' AND due_at <= now()
       UNION ALL
       SELECT 'kafka', count(*), extract(epoch FROM now() - min(created_at))
         FROM outbox WHERE published_at IS NULL AND parked_at IS NULL AND destination LIKE 'kafka:%'`,
    ),
    db.query<{ n: string }>(`SELECT count(*) AS n FROM outbox WHERE parked_at IS NOT NULL`),
  ]);
  const of = (destination: 'queue' | 'kafka') => {
    const row = undelivered.rows.find((r) => r.destination === destination);
    return { rows: Number(row?.n ?? 0), oldestAgeSeconds: Math.max(0, Number(row?.age ?? 0)) };
  };
  return { depth: { queue: of('queue'), kafka: of('kafka') }, parked: Number(parked.rows[0]?.n ?? 0) };
}
