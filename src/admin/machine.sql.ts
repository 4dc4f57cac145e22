// The visualizer's reads, each bounded: in-flight orders by state (over the orders_status index,
// in-flight orders only), the oldest stuck orders (LIMIT), and one order's history (its
// transitions, and its outbox rows and dead letters found by the message-id prefix every message
// of an order carries: `${orderId}.${type}`, over the unique index on message_id).
import { orderHistory, type TransitionRow as HistoryRow } from '../orders/order.queries.ts';
import type { Pool } from '../platform/db.ts';

/** Statuses of orders still moving; every other status is final. */
export const inFlightStatuses = ['pending', 'cancelling'];

export interface StateCount {
  state: string;
  count: number;
  oldest_age_seconds: number | null;
}

/** In-flight orders per machine state, with the age of the one longest in it. */
export async function inFlightByState(pool: Pool): Promise<StateCount[]> {
  const result = await pool.query<{ state: string; n: string; age: string | null }>(
    `SELECT state, count(*) AS n, extract(epoch FROM now() - min(updated_at)) AS age
       FROM orders WHERE status = ANY($1::text[]) GROUP BY state`,
    [inFlightStatuses],
  );
  return result.rows.map((r) => ({ state: r.state, count: Number(r.n), oldest_age_seconds: Number(r.age) }));
}

/** Orders per final status (and the confirmed state): read by the periodic check, not per request. */
export async function finalByStatus(pool: Pool): Promise<Map<string, number>> {
  const result = await pool.query<{ status: string; n: string }>(
    `SELECT status, count(*) AS n FROM orders WHERE status <> ALL($1::text[]) GROUP BY status`,
    [inFlightStatuses],
  );
  return new Map(result.rows.map((r) => [r.status, Number(r.n)]));
}

export interface StuckOrderRow {
  id: string;
  status: string;
  state: string;
  updated_at: Date;
  age_seconds: number;
  last_seq: number | null;
  last_event_type: string | null;
  last_message_id: string | null;
  last_at: Date | null;
}

/** In-flight orders untouched for longer than stuckAfterMs, oldest first. */
export async function stuckOrders(pool: Pool, stuckAfterMs: number, limit: number): Promise<StuckOrderRow[]> {
  const result = await pool.query<StuckOrderRow>(
    `SELECT o.id::text, o.status, o.state, o.updated_at, extract(epoch FROM now() - o.updated_at)::float8 AS age_seconds,
            t.seq AS last_seq, t.event_type AS last_event_type, t.message_id AS last_message_id, t.created_at AS last_at
       FROM orders o
       LEFT JOIN LATERAL (SELECT seq, event_type, message_id, created_at FROM order_transitions
                           WHERE order_id = o.id ORDER BY seq DESC LIMIT 1) t ON true
      WHERE o.status = ANY($1::text[]) AND o.updated_at < now() - make_interval(secs => $2::float8 / 1000)
      ORDER BY o.updated_at LIMIT $3`,
    [inFlightStatuses, stuckAfterMs, limit],
  );
  return result.rows;
}

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

/** Every outbox row of the given orders (still kept: delivered rows are pruned after retention). */
export async function outboxOf(pool: Pool, orderId: string): Promise<OutboxFact[]> {
  const result = await pool.query<OutboxFact>(
    `SELECT id::text, message_id, destination, type, created_at, due_at, dispatched_at, processed_at, parked_at,
            attempts, last_error
       FROM outbox WHERE ${messagesOf} ORDER BY id LIMIT 500`,
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
       FROM dead_letters WHERE ${messagesOf} ORDER BY id LIMIT 100`,
    [orderId],
  );
  return result.rows;
}
