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
  /** The version of the order machine that wrote the snapshot (migration 017). */
  machine_version: number;
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
  machine_version: number;
  status: OrderStatus;
  created_at: Date;
}

/**
 * In one statement: locks the orders until the transaction ends, in id order (every caller locks in
 * that order, so two transactions never deadlock on them), then claims an inbox row per message id
 * for `consumer`, and marks processed the outbox rows that carried those messages as jobs. The locks
 * come first (the claim waits for them), so a duplicate of a message in another transaction waits on
 * the order's row, never holds an inbox row the lock holder needs. A missing order is absent from
 * `orders`; a message id missing from `claimed` was processed before.
 */
export async function lockAndClaim(
  client: Client,
  consumer: string,
  orderIds: string[],
  messageIds: string[],
): Promise<{ orders: Map<string, LockedOrder>; claimed: Set<string> }> {
  const result = await client.query<LockedOrder & { id: string; claimed: string | null }>({
    name: 'orders-lock-and-claim',
    text: `WITH locked AS MATERIALIZED (
       SELECT id, snapshot, version, machine_version, status, created_at FROM orders
        WHERE id = ANY($2::uuid[]) ORDER BY id FOR UPDATE),
     claimed AS (
       INSERT INTO inbox (consumer, message_id)
       SELECT $1, m FROM unnest($3::text[]) AS m WHERE (SELECT count(*) FROM locked) >= 0 ORDER BY m
       ON CONFLICT DO NOTHING RETURNING message_id),
     marked AS (
       UPDATE outbox SET processed_at = now()
        WHERE message_id IN (SELECT message_id FROM claimed)
          AND destination = 'queue:' || $1 AND processed_at IS NULL)
     SELECT id::text, snapshot, version, machine_version, status, created_at, NULL AS claimed FROM locked
     UNION ALL
     SELECT NULL, NULL, NULL, NULL, NULL, NULL, message_id FROM claimed`,
    values: [consumer, orderIds, [...new Set(messageIds)]],
  });
  const orders = new Map<string, LockedOrder>();
  const claimed = new Set<string>();
  for (const row of result.rows) {
    if (row.claimed !== null) claimed.add(row.claimed);
    else orders.set(row.id, row);
  }
  return { orders, claimed };
}

export async function readOrder(db: Pool | Client, orderId: string): Promise<OrderRow | undefined> {
  const result = await db.query<OrderRow>(`SELECT * FROM orders WHERE id = $1`, [orderId]);
  return result.rows[0];
}

export type NewOrder = Omit<
  OrderRow,
  'created_at' | 'updated_at' | 'finalized_at' | 'version' | 'discount' | 'failure_reason'
>;

/** The caller's Idempotency-Key of a placement: at most one order per (caller, key). */
export interface PlacementKey {
  caller: string;
  key: string;
  /** The request's hash: the same key with another request is refused. */
  hash: string;
  /** How long a key holds its order; after that it may be used again. */
  ttlMs: number;
}

/**
 * The placement statement. With a key, its claim comes first: a new key, or one past its time, is
 * claimed for this order, and the order is written only then; a key held by an earlier placement
 * writes nothing (a concurrent placement with the same key waits for this one's commit on the
 * key's unique index, then finds it held). The key and its order thus commit together or not at
 * all: a key row always has its order (migration 011).
 */
function placementSql(keyed: boolean): string {
  const claim = keyed
    ? `INSERT INTO idempotency_keys (caller, key, request_hash, order_id) VALUES ($21, $22, $23, $1)
       ON CONFLICT (caller, key) DO UPDATE
          SET request_hash = EXCLUDED.request_hash, created_at = now(), response_status = NULL,
              response_body = NULL, order_id = EXCLUDED.order_id
        WHERE idempotency_keys.created_at < now() - make_interval(secs => $24::double precision / 1000)
       RETURNING order_id`
    : `SELECT $1::uuid AS order_id`;
  return `WITH claimed AS (${claim}),
     placed AS (
       INSERT INTO orders (id, user_id, currency, status, state, snapshot, version, machine_version, items,
                           subtotal, total, coupon_code, shipping_address, correlation_id)
       SELECT $1, $2, $3, $4, $5, $6, 1, $20, $7, $8, $9, $10, $11, $12 FROM claimed RETURNING id, created_at),
     first_step AS (
       INSERT INTO order_transitions (order_id, seq, from_state, to_state, event_type, message_id, event)
       SELECT id, $13, $14, $15, $16, $17, $18 FROM placed),
     sent AS (${outboxInsertSql('$19', 'EXISTS (SELECT 1 FROM placed)')})
     SELECT placed.created_at AS placed_at, sent.* FROM placed LEFT JOIN sent ON true`;
}

/**
 * Creates an order with its first transition and the outbox rows of its first intents (and, with a
 * key, claims the key) in ONE statement: atomic, one round trip, one commit. Returns the row's
 * creation time (the caller holds the rest of the row) and the outbox rows inserted, for the
 * fast-path dispatch; or null when the key was held and nothing was written.
 */
export async function insertPlacedOrder(
  db: Queryable,
  order: NewOrder,
  first: TransitionRow,
  messages: OutgoingMessage[],
  key?: PlacementKey,
): Promise<{ createdAt: Date; rows: OutboxRow[] } | null> {
  const values: unknown[] = [
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
    order.machine_version,
  ];
  if (key !== undefined) values.push(key.caller, key.key, key.hash, key.ttlMs);
  const result = await db.query<OutboxRow & { placed_at: Date }>({
    name: key === undefined ? 'orders-insert-placed' : 'orders-insert-placed-keyed',
    text: placementSql(key !== undefined),
    values,
  });
  const createdAt = result.rows[0]?.placed_at;
  if (createdAt === undefined) {
    if (key !== undefined) return null;
    throw new Error(`order ${order.id} was not inserted`);
  }
  return {
    createdAt,
    rows: result.rows.filter((r) => r.id !== null).map(({ placed_at: _, ...row }) => row as OutboxRow),
  };
}

export interface KeyRow {
  request_hash: string;
  response_status: number | null;
  response_body: { body: unknown; headers?: Record<string, string> } | null;
  order_id: string | null;
}

/** What a caller's key holds: its request's hash and its order (answers stored by versions before 011). */
export async function findPlacementKey(db: Queryable, caller: string, key: string): Promise<KeyRow | undefined> {
  const found = await db.query<KeyRow>({
    name: 'idempotency-find',
    text: `SELECT request_hash, response_status, response_body, order_id FROM idempotency_keys WHERE caller = $1 AND key = $2`,
    values: [caller, key],
  });
  return found.rows[0];
}

/** An order's state at the end of a batch: saved once, whatever number of steps led there. */
export interface SavedStep {
  orderId: string;
  expectedVersion: number;
  version: number;
  /** The version of the machine definition that stepped it (its snapshot is of that version). */
  machineVersion: number;
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
  /** Set when the step restored an older snapshot through migrations: from which version, to which. */
  migration?: { from: number; to: number };
}

export interface BatchToSave {
  saved: SavedStep[];
  transitions: TransitionRow[];
  messages: OutgoingMessage[];
  /** Message ids of timers the orders no longer wait for. */
  withdrawn: string[];
  /** Orders whose status changed: their new row is told on channel 'order_status' at commit. */
  told: string[];
}

/** The channel on which a committed status change is told (JSON: the order's changed columns). */
export const orderStatusChannel = 'order_status';

/**
 * Saves a batch in one statement: every changed order's snapshot at its new version, every
 * transition, every intent's outbox row, the withdrawn timers, and a notification per order whose
 * status changed (delivered at commit, so nobody hears of a change that did not commit). Each
 * update is conditional on the version read under the row lock, so a lost update is impossible; a
 * version that moved anyway is a broken invariant and fails the batch. Returns the outbox rows
 * inserted, for the dispatch after commit.
 */
export async function saveBatch(client: Client, batch: BatchToSave): Promise<OutboxRow[]> {
  if (batch.saved.length === 0 && batch.messages.length === 0 && batch.withdrawn.length === 0) return [];
  const result = await client.query<OutboxRow & { updated: number }>({
    name: 'orders-save-batch',
    text: `WITH updated AS (
       UPDATE orders o
          SET status = s.status, state = s.state, snapshot = s.snapshot, version = s.version,
              machine_version = s.machine_version,
              discount = s.discount, total = s.total, failure_reason = s.failure_reason, updated_at = now(),
              finalized_at = CASE WHEN s.final THEN coalesce(o.finalized_at, now()) ELSE o.finalized_at END
         FROM jsonb_to_recordset($1::jsonb) AS s(id uuid, expected integer, version integer, machine_version integer, status text,
              state text, snapshot jsonb, discount numeric, total numeric, failure_reason text, final boolean)
        WHERE o.id = s.id AND o.version = s.expected
        RETURNING o.id, o.status, o.state, o.version, o.discount::text AS discount, o.total::text AS total,
                  o.failure_reason, o.updated_at, o.finalized_at),
     appended AS (
       INSERT INTO order_transitions (order_id, seq, from_state, to_state, event_type, message_id, event,
                                      migrated_from, migrated_to)
       SELECT t.order_id, t.seq, t.from_state, t.to_state, t.event_type, t.message_id, t.event,
              t.migrated_from, t.migrated_to
         FROM jsonb_to_recordset($2::jsonb) AS t(order_id uuid, seq integer, from_state text, to_state text,
              event_type text, message_id text, event jsonb, migrated_from integer, migrated_to integer)),
     withdrawn AS (
       UPDATE outbox SET processed_at = now()
        WHERE message_id = ANY($4::text[]) AND delay_ms > 0 AND processed_at IS NULL),
     told AS (
       SELECT pg_notify('${orderStatusChannel}', row_to_json(u)::text) FROM updated u WHERE u.id = ANY($5::uuid[])),
     sent AS (${outboxInsertSql('$3')})
     SELECT (SELECT count(*)::int FROM updated) AS updated, (SELECT count(*) FROM told) AS told, sent.*
       FROM (SELECT 1) AS one LEFT JOIN sent ON true`,
    values: [
      JSON.stringify(
        batch.saved.map((u) => ({
          id: u.orderId,
          expected: u.expectedVersion,
          version: u.version,
          machine_version: u.machineVersion,
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
        batch.transitions.map((t) => ({
          order_id: t.orderId,
          seq: t.seq,
          from_state: t.from,
          to_state: t.to,
          event_type: t.eventType,
          message_id: t.messageId,
          event: t.event,
          migrated_from: t.migration?.from ?? null,
          migrated_to: t.migration?.to ?? null,
        })),
      ),
      outboxRowsOf(batch.messages),
      batch.withdrawn,
      batch.told,
    ],
  });
  const updated = result.rows[0]?.updated;
  if (updated !== batch.saved.length) {
    throw new Error(`orders changed under their row locks: saved ${updated} of ${batch.saved.length}`);
  }
  return result.rows.filter((r) => r.id !== null).map(({ updated: _, ...row }) => row as OutboxRow);
}
