// The orders module's tables: orders (snapshot + version) and order_transitions (history).
import type { Client, Pool, Queryable } from '../platform/db.ts';
import { outboxInsertSql, outboxRowsOf, type OutboxRow } from '../messaging/outbox.sql.ts';
import type { OutgoingMessage } from '../../queues/message.ts';
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

export interface LockedOrder {
  snapshot: unknown;
  version: number;
  created_at: Date;
}

/**
 * Locks the orders until the transaction ends, in id order (every batch locks in that order, so
 * two batches never deadlock), and returns what stepping them needs. A missing id is absent.
 */
export async function lockOrders(client: Client, orderIds: string[]): Promise<Map<string, LockedOrder>> {
  const result = await client.query<LockedOrder & { id: string }>({
    name: 'orders-lock',
    text: `SELECT id, snapshot, version, created_at FROM orders WHERE id = ANY($1::uuid[]) ORDER BY id FOR UPDATE`,
    values: [orderIds],
  });
  return new Map(result.rows.map((row) => [row.id, row]));
}

export async function readOrder(db: Pool | Client, orderId: string): Promise<OrderRow | undefined> {
  const result = await db.query<OrderRow>(`SELECT * FROM orders WHERE id = $1`, [orderId]);
  return result.rows[0];
}

export type NewOrder = Omit<
  OrderRow,
  'created_at' | 'updated_at' | 'finalized_at' | 'version' | 'discount' | 'failure_reason'
>;

/**
 * Creates an order with its first transition and the outbox rows of its first intents, in ONE
 * statement: atomic (a statement is its own transaction), one round trip, one commit. Returns the
 * outbox rows inserted, for the fast-path dispatch.
 */
export async function insertPlacedOrder(
  db: Queryable,
  order: NewOrder,
  first: TransitionRow,
  messages: OutgoingMessage[],
): Promise<OutboxRow[]> {
  const result = await db.query<OutboxRow>({
    name: 'orders-insert-placed',
    text: `WITH placed AS (
       INSERT INTO orders (id, user_id, currency, status, state, snapshot, version, items, subtotal, total,
                           coupon_code, shipping_address, correlation_id)
       VALUES ($1, $2, $3, $4, $5, $6, 1, $7, $8, $9, $10, $11, $12) RETURNING id),
     first_step AS (
       INSERT INTO order_transitions (order_id, seq, from_state, to_state, event_type, message_id, event)
       SELECT id, $13, $14, $15, $16, $17, $18 FROM placed),
     sent AS (${outboxInsertSql('$19')})
     SELECT * FROM sent`,
    values: [
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
      first.seq,
      first.from,
      first.to,
      first.eventType,
      first.messageId,
      JSON.stringify(first.event),
      outboxRowsOf(messages),
    ],
  });
  return result.rows;
}

/** An order's state at the end of a batch: saved once, whatever number of steps led there. */
export interface SavedStep {
  orderId: string;
  expectedVersion: number;
  version: number;
  status: OrderStatus;
  state: string;
  snapshot: unknown;
  discount: string;
  total: string;
  failureReason: string | null;
  final: boolean;
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

/**
 * Saves a batch's steps in one statement: every changed order's snapshot at its new version, and
 * every transition. Each update is conditional on the version read under the row lock, so a lost
 * update is impossible; a version that moved anyway is a broken invariant and fails the batch.
 */
export async function saveSteps(client: Client, saved: SavedStep[], transitions: TransitionRow[]): Promise<void> {
  if (saved.length === 0) return;
  const result = await client.query<{ updated: number }>({
    name: 'orders-save-steps',
    text: `WITH updated AS (
       UPDATE orders o
          SET status = s.status, state = s.state, snapshot = s.snapshot, version = s.version,
              discount = s.discount, total = s.total, failure_reason = s.failure_reason, updated_at = now(),
              finalized_at = CASE WHEN s.final THEN coalesce(o.finalized_at, now()) ELSE o.finalized_at END
         FROM jsonb_to_recordset($1::jsonb) AS s(id uuid, expected integer, version integer, status text,
              state text, snapshot jsonb, discount numeric, total numeric, failure_reason text, final boolean)
        WHERE o.id = s.id AND o.version = s.expected
        RETURNING o.id),
     appended AS (
       INSERT INTO order_transitions (order_id, seq, from_state, to_state, event_type, message_id, event)
       SELECT t.order_id, t.seq, t.from_state, t.to_state, t.event_type, t.message_id, t.event
         FROM jsonb_to_recordset($2::jsonb) AS t(order_id uuid, seq integer, from_state text, to_state text,
              event_type text, message_id text, event jsonb))
     SELECT count(*)::int AS updated FROM updated`,
    values: [
      JSON.stringify(
        saved.map((u) => ({
          id: u.orderId,
          expected: u.expectedVersion,
          version: u.version,
          status: u.status,
          state: u.state,
          snapshot: u.snapshot,
          discount: u.discount,
          total: u.total,
          failure_reason: u.failureReason,
          final: u.final,
        })),
      ),
      JSON.stringify(
        transitions.map((t) => ({
          order_id: t.orderId,
          seq: t.seq,
          from_state: t.from,
          to_state: t.to,
          event_type: t.eventType,
          message_id: t.messageId,
          event: t.event,
        })),
      ),
    ],
  });
  if (result.rows[0]?.updated !== saved.length) {
    throw new Error(`orders changed under their row locks: saved ${result.rows[0]?.updated} of ${saved.length}`);
  }
}
