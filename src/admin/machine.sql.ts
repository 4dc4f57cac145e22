// The visualizer's reads of one order's messages, each bounded: its outbox rows and dead letters,
// found by the message-id prefix every message of an order carries (`${orderId}.${type}`, over
// the unique index on message_id), and its transitions as the orders module reads them. The
// orders' own reads (fleet counts, stuck orders, pages) live in src/orders/order.queries.ts.
import { orderHistory, type TransitionRow as HistoryRow } from '../orders/order.queries.ts';
import type { Pool } from '../platform/db.ts';

export interface OutboxFact {
  id: string;
  message_id: string;
  destination: string;
  type: string;
  created_at: Date;
  due_at: Date;
  dispatched_at: Date | null;
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
export async function outboxOf(pool: Pool, orderId: string): Promise<OutboxFact[]> {
  const result = await pool.query<OutboxFact>(
    `SELECT id::text, message_id, destination, type, created_at, due_at, dispatched_at, processed_at, parked_at,
            attempts, last_error
       FROM outbox WHERE ${messagesOf} ORDER BY outbox.id LIMIT 500`,
    [orderId],
  );
  return result.rows;
}

/** The queue messages the order still waits for: sent, due, not yet processed. */
export async function awaitedMessages(pool: Pool, orderIds: string[]): Promise<Map<string, OutboxFact[]>> {
  const byOrder = new Map<string, OutboxFact[]>();
  for (const orderId of orderIds) {
    const rows = await outboxOf(pool, orderId);
    byOrder.set(
      orderId,
      rows.filter((r) => r.destination.startsWith('queue:') && r.processed_at === null && r.parked_at === null),
    );
  }
  return byOrder;
}

/** An order's transitions, as the order module reads them; events are the machine's JSON objects. */
export type TransitionRow = HistoryRow & { event: Record<string, unknown> };

export async function transitionsOf(pool: Pool, orderId: string): Promise<TransitionRow[]> {
  return (await orderHistory(pool, orderId)) as TransitionRow[];
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

export async function deadLettersOf(pool: Pool, orderId: string): Promise<DeadLetterFact[]> {
  const result = await pool.query<DeadLetterFact>(
    `SELECT id::text, queue, job_id, message_id, error, attempts, created_at
       FROM dead_letters WHERE ${messagesOf} ORDER BY dead_letters.id LIMIT 100`,
    [orderId],
  );
  return result.rows;
}
