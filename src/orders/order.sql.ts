// The orders module's tables: orders (snapshot + version) and order_transitions (history).
import type { Client, Pool } from '../platform/db.ts';
import type { OrderStatus } from '../../machines/order.types.ts';

export interface OrderRow {
  id: string;
  user_id: string;
  currency: string;
  status: OrderStatus;
  state: string;
  snapshot: unknown;
  version: number;
  items: Array<{ product_id: string; quantity: number; unit_price: string }>;
  subtotal: string;
  discount: string;
  total: string;
  coupon_code: string | null;
  shipping_address: unknown;
  failure_reason: string | null;
  correlation_id: string;
  created_at: Date;
  updated_at: Date;
  finalized_at: Date | null;
}

export async function lockOrder(client: Client, orderId: string): Promise<OrderRow | undefined> {
  const result = await client.query<OrderRow>(`SELECT * FROM orders WHERE id = $1 FOR UPDATE`, [orderId]);
  return result.rows[0];
}

export async function readOrder(db: Pool | Client, orderId: string): Promise<OrderRow | undefined> {
  const result = await db.query<OrderRow>(`SELECT * FROM orders WHERE id = $1`, [orderId]);
  return result.rows[0];
}

export type NewOrder = Omit<
  OrderRow,
  'created_at' | 'updated_at' | 'finalized_at' | 'version' | 'discount' | 'failure_reason'
>;

export async function insertOrder(client: Client, order: NewOrder): Promise<void> {
  await client.query(
    `INSERT INTO orders (id, user_id, currency, status, state, snapshot, version, items, subtotal, total,
                         coupon_code, shipping_address, correlation_id)
     VALUES ($1, $2, $3, $4, $5, $6, 1, $7, $8, $9, $10, $11, $12)`,
    [
      order.id,
      order.user_id,
      order.currency,
      order.status,
      order.state,
      JSON.stringify(order.snapshot),
      JSON.stringify(order.items),
      order.subtotal,
      order.total,
      order.coupon_code,
      JSON.stringify(order.shipping_address),
      order.correlation_id,
    ],
  );
}

export interface SnapshotUpdate {
  orderId: string;
  expectedVersion: number;
  status: OrderStatus;
  state: string;
  snapshot: unknown;
  discount: string;
  total: string;
  failureReason: string | null;
  final: boolean;
}

/** Saves a step. Conditional on the version read under the row lock: a lost update is impossible. */
export async function saveSnapshot(client: Client, u: SnapshotUpdate): Promise<void> {
  const result = await client.query(
    `UPDATE orders SET status = $3, state = $4, snapshot = $5, version = version + 1, discount = $6, total = $7,
            failure_reason = $8, updated_at = now(),
            finalized_at = CASE WHEN $9 THEN coalesce(finalized_at, now()) ELSE finalized_at END
      WHERE id = $1 AND version = $2`,
    [
      u.orderId,
      u.expectedVersion,
      u.status,
      u.state,
      JSON.stringify(u.snapshot),
      u.discount,
      u.total,
      u.failureReason,
      u.final,
    ],
  );
  if (result.rowCount !== 1)
    throw new Error(`order ${u.orderId} changed under its row lock (version ${u.expectedVersion})`);
}

export interface TransitionRow {
  orderId: string;
  seq: number;
  from: string | null;
  to: string;
  eventType: string;
  messageId: string;
  event: unknown;
}

export async function insertTransition(client: Client, t: TransitionRow): Promise<void> {
  await client.query(
    `INSERT INTO order_transitions (order_id, seq, from_state, to_state, event_type, message_id, event)
     VALUES ($1, $2, $3, $4, $5, $6, $7)`,
    [t.orderId, t.seq, t.from, t.to, t.eventType, t.messageId, JSON.stringify(t.event)],
  );
}

export async function transitionsOf(db: Pool | Client, orderId: string) {
  const result = await db.query<{
    seq: number;
    from_state: string | null;
    to_state: string;
    event_type: string;
    message_id: string;
    event: unknown;
    created_at: Date;
  }>(
    `SELECT seq, from_state, to_state, event_type, message_id, event, created_at FROM order_transitions
       WHERE order_id = $1 ORDER BY seq`,
    [orderId],
  );
  return result.rows;
}
