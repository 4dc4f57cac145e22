// Reads of the orders module for the API: pages of orders (keyset, newest first) and an order's
// transition history. Nothing here writes.
import type { Queryable } from '../platform/db.ts';
import type { OrderStatus } from '../../machines/order.types.ts';
import type { OrderRow } from './order.sql.ts';

/** Where a page starts: the last row of the previous page, as (created_at in µs since epoch, id). */
export interface OrderCursor {
  createdAtMicros: string;
  id: string;
}

export interface OrderPageQuery {
  userId?: string;
  status?: OrderStatus;
  limit: number;
  after?: OrderCursor;
}

export interface OrderPage {
  orders: OrderRow[];
  /** The cursor of the last row when more rows follow, else null. */
  next: OrderCursor | null;
}

/**
 * One page of orders, newest first. The cursor compares (created_at, id) as a row, so a page
 * never repeats or skips an order, whatever is inserted meanwhile; microseconds keep it exact.
 */
export async function listOrders(db: Queryable, query: OrderPageQuery): Promise<OrderPage> {
  const result = await db.query<OrderRow & { cursor_micros: string }>(
    `SELECT o.*, (extract(epoch FROM o.created_at) * 1000000)::bigint::text AS cursor_micros
       FROM orders o
      WHERE ($1::text IS NULL OR o.user_id = $1)
        AND ($2::text IS NULL OR o.status = $2)
        AND ($3::bigint IS NULL
             OR (o.created_at, o.id) < (timestamptz 'epoch' + $3::bigint * interval '1 microsecond', $4::uuid))
      ORDER BY o.created_at DESC, o.id DESC
      LIMIT $5`,
    [
      query.userId ?? null,
      query.status ?? null,
      query.after?.createdAtMicros ?? null,
      query.after?.id ?? null,
      query.limit + 1,
    ],
  );
  const rows = result.rows.slice(0, query.limit);
  const last = rows.at(-1);
  const next =
    result.rows.length > query.limit && last !== undefined
      ? { createdAtMicros: last.cursor_micros, id: last.id }
      : null;
  return { orders: rows, next };
}

/** The columns a step changes: what the order actor tells on 'order_status', and the poll reads. */
export type OrderChange = Pick<
  OrderRow,
  'id' | 'status' | 'state' | 'version' | 'discount' | 'total' | 'failure_reason' | 'updated_at' | 'finalized_at'
>;

/** The changeable columns of the given orders, in one statement (the order waiter's backstop). */
export async function orderChanges(db: Queryable, ids: string[]): Promise<OrderChange[]> {
  const result = await db.query<OrderChange>({
    name: 'orders-changes',
    text: `SELECT id::text, status, state, version, discount::text, total::text, failure_reason, updated_at, finalized_at
             FROM orders WHERE id = ANY($1::uuid[])`,
    values: [ids],
  });
  return result.rows;
}

export interface TransitionRow {
  seq: number;
  from_state: string | null;
  to_state: string;
  event_type: string;
  message_id: string;
  event: unknown;
  created_at: Date;
}

/** Every transition of an order, oldest first (bounded: an order's machine takes few steps). */
export async function orderHistory(db: Queryable, orderId: string): Promise<TransitionRow[]> {
  const result = await db.query<TransitionRow>(
    `SELECT seq, from_state, to_state, event_type, message_id, event, created_at
       FROM order_transitions WHERE order_id = $1 ORDER BY seq LIMIT 1000`,
    [orderId],
  );
  return result.rows;
}
