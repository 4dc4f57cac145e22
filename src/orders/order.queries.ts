// Reads of the orders module for the API and the operator's console: pages of orders (keyset,
// newest first, with the console's filters and search), an order's transition history, and the
// fleet: in-flight orders per machine state and the stuck ones. Nothing here writes.
import type { Queryable } from '../platform/db.ts';
import { finalStatuses, inFlightStatuses } from '../../machines/order.status.ts';
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
  /** A machine state; a compound state ('compensating') takes in the states inside it. */
  state?: string;
  failureReason?: string;
  createdAfter?: Date;
  createdBefore?: Date;
  /** The search box: an order id, a user id or a correlation id, matched exactly. */
  search?: string;
  limit: number;
  after?: OrderCursor;
}

const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export interface OrderPage {
  orders: OrderRow[];
  /** The cursor of the last row when more rows follow, else null. */
  next: OrderCursor | null;
}

/**
 * One page of orders, newest first. The cursor compares (created_at, id) as a row, so a page
 * never repeats or skips an order, whatever is inserted meanwhile; microseconds keep it exact.
 * Each filter is optional; the statement is planned with its values, so an absent filter costs
 * nothing and the search uses the id, user and correlation indexes.
 */
export async function listOrders(db: Queryable, query: OrderPageQuery): Promise<OrderPage> {
  const search = query.search ?? null;
  const result = await db.query<OrderRow & { cursor_micros: string }>(
    `SELECT o.*, (extract(epoch FROM o.created_at) * 1000000)::bigint::text AS cursor_micros
       FROM orders o
      WHERE ($1::text IS NULL OR o.user_id = $1)
        AND ($2::text IS NULL OR o.status = $2)
        AND ($3::text IS NULL OR o.state = $3 OR starts_with(o.state, $3 || '.'))
        AND ($4::text IS NULL OR o.failure_reason = $4)
        AND ($5::timestamptz IS NULL OR o.created_at >= $5)
        AND ($6::timestamptz IS NULL OR o.created_at < $6)
        AND ($7::text IS NULL OR o.user_id = $7 OR o.correlation_id = $7 OR o.id = $8::uuid)
        AND ($9::bigint IS NULL
             OR (o.created_at, o.id) < (timestamptz 'epoch' + $9::bigint * interval '1 microsecond', $10::uuid))
      ORDER BY o.created_at DESC, o.id DESC
      LIMIT $11`,
    [
      query.userId ?? null,
      query.status ?? null,
      query.state ?? null,
      query.failureReason ?? null,
      query.createdAfter ?? null,
      query.createdBefore ?? null,
      search,
      search !== null && uuidPattern.test(search) ? search : null,
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

export interface StateCount {
  state: string;
  count: number;
  oldest_age_seconds: number | null;
}

/** In-flight orders per machine state, with the age of the one longest in it (over orders_status). */
export async function inFlightByState(db: Queryable): Promise<StateCount[]> {
  const result = await db.query<{ state: string; n: string; age: string | null }>(
    `SELECT state, count(*) AS n, extract(epoch FROM now() - min(updated_at)) AS age
       FROM orders WHERE status = ANY($1::text[]) GROUP BY state`,
    [[...inFlightStatuses]],
  );
  return result.rows.map((r) => ({ state: r.state, count: Number(r.n), oldest_age_seconds: Number(r.age) }));
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

/** In-flight orders untouched for longer than stuckAfterMs, oldest first, at most `limit`. */
export async function stuckOrders(db: Queryable, stuckAfterMs: number, limit: number): Promise<StuckOrderRow[]> {
  const result = await db.query<StuckOrderRow>(
    `SELECT o.id::text, o.status, o.state, o.updated_at, extract(epoch FROM now() - o.updated_at)::float8 AS age_seconds,
            t.seq AS last_seq, t.event_type AS last_event_type, t.message_id AS last_message_id, t.created_at AS last_at
       FROM orders o
       LEFT JOIN LATERAL (SELECT seq, event_type, message_id, created_at FROM order_transitions
                           WHERE order_id = o.id ORDER BY seq DESC LIMIT 1) t ON true
      WHERE o.status = ANY($1::text[]) AND o.updated_at < now() - make_interval(secs => $2::float8 / 1000)
      ORDER BY o.updated_at LIMIT $3`,
    [[...inFlightStatuses], stuckAfterMs, limit],
  );
  return result.rows;
}

/** Of the orders given, those that exist and are final (an order that needs attention is not). */
export async function finalOrdersAmong(db: Queryable, orderIds: string[]): Promise<Set<string>> {
  if (orderIds.length === 0) return new Set();
  const result = await db.query<{ id: string }>(
    `SELECT id::text FROM orders WHERE id = ANY($1::uuid[]) AND status = ANY($2::text[])`,
    [orderIds, [...finalStatuses]],
  );
  return new Set(result.rows.map((r) => r.id));
}

/** Orders in flight whose last change is older than stuckAfterMs. */
export async function stuckOrderCount(db: Queryable, stuckAfterMs: number): Promise<number> {
  const result = await db.query<{ n: string }>(
    `SELECT count(*) AS n FROM orders WHERE status = ANY($1::text[])
        AND updated_at < now() - make_interval(secs => $2::float8 / 1000)`,
    [[...inFlightStatuses], stuckAfterMs],
  );
  return Number(result.rows[0]?.n ?? 0);
}

/** Orders halted in needs_attention (over the partial index orders_needs_attention, migration 018). */
export async function needsAttentionCount(db: Queryable): Promise<number> {
  const result = await db.query<{ n: string }>(`SELECT count(*) AS n FROM orders WHERE status = 'needs_attention'`);
  return Number(result.rows[0]?.n ?? 0);
}

/** Orders per status (statuses with none are absent). */
export async function orderCountsByStatus(db: Queryable): Promise<Map<string, number>> {
  const result = await db.query<{ status: string; n: string }>(
    `SELECT status, count(*) AS n FROM orders GROUP BY status`,
  );
  return new Map(result.rows.map((r) => [r.status, Number(r.n)]));
}
