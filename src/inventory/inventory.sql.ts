// Inventory's atomic operations. Each statement that guards an invariant says what it
// guarantees. The stock table's CHECKs (available, held, sold >= 0; available + held + sold =
// on_hand) make an oversell or a lost unit impossible to commit, whatever the callers do.
import type { Client, Pool } from '../platform/db.ts';
import type { OrderItem } from '../../machines/order.types.ts';

export type GroupStatus = 'held' | 'committed' | 'released' | 'refused';

export type ReserveResult =
  | { kind: 'reserved'; expiresAt: string }
  | { kind: 'already'; status: GroupStatus; expiresAt: string | null }
  | { kind: 'out_of_stock'; productId: string }
  | { kind: 'unknown_product'; productId: string };

/** Sums quantities per product and sorts by product id: one lock order for every caller. */
export function normalizeItems(items: OrderItem[]): OrderItem[] {
  const totals = new Map<string, number>();
  for (const item of items) totals.set(item.product_id, (totals.get(item.product_id) ?? 0) + item.quantity);
  return [...totals.entries()]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([product_id, quantity]) => ({ product_id, quantity }));
}

/**
 * Holds stock for an order. The group row is claimed first: if the order already has one (a
 * redelivery, or a release that came first and left its tombstone), nothing changes. Stock rows
 * are locked in product-id order, so two reservations never deadlock, and each decrement is
 * conditional on `available >= quantity`: this, not the Redis lock, is what prevents oversell.
 */
export async function reserve(
  client: Client,
  orderId: string,
  items: OrderItem[],
  ttlMs: number,
): Promise<ReserveResult> {
  const claimed = await client.query<{ expires_at: Date }>(
    `INSERT INTO reservation_groups (order_id, status, expires_at)
     VALUES ($1, 'held', now() + make_interval(secs => $2::double precision / 1000))
     ON CONFLICT (order_id) DO NOTHING RETURNING expires_at`,
    [orderId, ttlMs],
  );
  const group = claimed.rows[0];
  if (group === undefined) {
    const existing = await client.query<{ status: GroupStatus; expires_at: Date | null }>(
      `SELECT status, expires_at FROM reservation_groups WHERE order_id = $1`,
      [orderId],
    );
    const row = existing.rows[0];
    if (row === undefined) throw new Error(`reservation group for ${orderId} vanished`);
    return { kind: 'already', status: row.status, expiresAt: row.expires_at?.toISOString() ?? null };
  }
  const lines = normalizeItems(items);
  const held = await holdStock(client, orderId, lines, group.expires_at);
  if (held.kind === 'reserved') return { kind: 'reserved', expiresAt: group.expires_at.toISOString() };
  return held;
}

/**
 * In one statement: locks the stock rows in product-id order; if every line is there with enough
 * available units, moves them from available to held and writes the reservations; otherwise
 * changes no stock and marks the group refused, naming the first short product. The conditional
 * decrement under the row locks, and the stock CHECKs, are the guard against oversell.
 */
async function holdStock(
  client: Client,
  orderId: string,
  lines: OrderItem[],
  expiresAt: Date,
): Promise<{ kind: 'reserved' } | { kind: 'out_of_stock' | 'unknown_product'; productId: string }> {
  const result = await client.query<{ product_id: string | null; kind: string | null; taken: number }>({
    name: 'stock-hold',
    text: `WITH lines AS (SELECT * FROM jsonb_to_recordset($2::jsonb) AS l(product_id text, quantity integer)),
       locked AS MATERIALIZED (
         SELECT s.product_id, s.available FROM stock s
          WHERE s.product_id IN (SELECT product_id FROM lines) ORDER BY s.product_id FOR UPDATE),
       short AS MATERIALIZED (
         SELECT l.product_id,
                CASE WHEN k.product_id IS NULL THEN 'unknown_product' ELSE 'out_of_stock' END AS kind
           FROM lines l LEFT JOIN locked k ON k.product_id = l.product_id
          WHERE k.product_id IS NULL OR k.available < l.quantity
          ORDER BY l.product_id LIMIT 1),
       taken AS (
         UPDATE stock s SET available = s.available - l.quantity, held = s.held + l.quantity
           FROM lines l
          WHERE s.product_id = l.product_id AND s.available >= l.quantity AND NOT EXISTS (SELECT 1 FROM short)
          RETURNING s.product_id),
       reserved AS (
         INSERT INTO reservations (order_id, product_id, quantity, status, expires_at)
         SELECT $1, l.product_id, l.quantity, 'held', $3 FROM lines l WHERE NOT EXISTS (SELECT 1 FROM short)),
       refused AS (
         UPDATE reservation_groups SET status = 'refused', updated_at = now()
          WHERE order_id = $1 AND EXISTS (SELECT 1 FROM short))
     SELECT (SELECT product_id FROM short), (SELECT kind FROM short), (SELECT count(*)::int FROM taken) AS taken`,
    values: [orderId, JSON.stringify(lines), expiresAt],
  });
  const row = result.rows[0];
  if (row?.kind === 'out_of_stock' || row?.kind === 'unknown_product') {
    return { kind: row.kind, productId: row.product_id ?? '' };
  }
  if (row?.taken !== lines.length) throw new Error(`conditional decrement failed under row lock for ${orderId}`);
  return { kind: 'reserved' };
}

/**
 * Locks the stock rows of `productIds` and of the reservations of `orderIds`, in product-id order,
 * until the transaction ends: the lock order every reserve, commit and release also follows.
 */
export async function lockStockOf(client: Client, productIds: string[], orderIds: string[]): Promise<void> {
  await client.query({
    name: 'stock-lock-batch',
    text: `SELECT product_id FROM stock
            WHERE product_id = ANY($1::text[])
               OR product_id IN (SELECT product_id FROM reservations WHERE order_id = ANY($2::uuid[]))
            ORDER BY product_id FOR UPDATE`,
    values: [productIds, orderIds],
  });
}

/**
 * held -> committed for many orders in one statement: their groups, their reservations, and the
 * stock of each product once (the held units of every order of the batch become sold). Returns each
 * order's group status afterwards; a group that was not held is read afresh, in a second statement,
 * since a release may have committed while the first one waited for its row.
 */
export async function commitAll(client: Client, orderIds: string[]): Promise<Map<string, GroupStatus | null>> {
  const moved = await client.query<{ order_id: string }>({
    name: 'stock-commit-all',
    text: `WITH g AS (
       UPDATE reservation_groups SET status = 'committed', updated_at = now()
        WHERE order_id = ANY($1::uuid[]) AND status = 'held' RETURNING order_id),
     r AS (
       UPDATE reservations SET status = 'committed', updated_at = now()
        WHERE order_id IN (SELECT order_id FROM g) AND status = 'held' RETURNING product_id, quantity),
     s AS (
       UPDATE stock s SET held = s.held - r.quantity, sold = s.sold + r.quantity
         FROM (SELECT product_id, sum(quantity)::int AS quantity FROM r GROUP BY product_id ORDER BY product_id) r
        WHERE s.product_id = r.product_id RETURNING 1)
     SELECT g.order_id::text, (SELECT count(*) FROM s) AS stock_rows FROM g`,
    values: [orderIds],
  });
  const statuses = new Map<string, GroupStatus | null>(moved.rows.map((r) => [r.order_id, 'committed']));
  const rest = orderIds.filter((id) => !statuses.has(id));
  if (rest.length > 0) {
    const found = await client.query<{ order_id: string; status: GroupStatus }>(
      `SELECT order_id::text, status FROM reservation_groups WHERE order_id = ANY($1::uuid[])`,
      [rest],
    );
    for (const id of rest) statuses.set(id, found.rows.find((r) => r.order_id === id)?.status ?? null);
  }
  return statuses;
}

/**
 * Releases whatever the order holds: held units return to available, committed (sold) units are
 * restocked. With no group yet, it writes a 'released' tombstone, so a reserve that arrives later
 * holds nothing. Releasing twice changes nothing.
 */
export async function release(client: Client, orderId: string): Promise<void> {
  const tombstone = await client.query(
    `INSERT INTO reservation_groups (order_id, status) VALUES ($1, 'released') ON CONFLICT (order_id) DO NOTHING`,
    [orderId],
  );
  if (tombstone.rowCount === 1) return;
  const group = await client.query<{ status: GroupStatus }>(
    `SELECT status FROM reservation_groups WHERE order_id = $1 FOR UPDATE`,
    [orderId],
  );
  const status = group.rows[0]?.status;
  if (status === 'held') {
    await moveStock(
      client,
      orderId,
      'held',
      'released',
      'held = held - r.quantity, available = available + r.quantity',
    );
  } else if (status === 'committed') {
    await moveStock(
      client,
      orderId,
      'committed',
      'released',
      'sold = sold - r.quantity, available = available + r.quantity',
    );
  }
  if (status === 'held' || status === 'committed' || status === 'refused') {
    await client.query(`UPDATE reservation_groups SET status = 'released', updated_at = now() WHERE order_id = $1`, [
      orderId,
    ]);
  }
}

async function moveStock(
  client: Client,
  orderId: string,
  from: string,
  to: string,
  stockChange: string,
): Promise<void> {
  // Rows are updated in product-id order, the same order reserve locks them in.
  await client.query(
    `WITH r AS (
       UPDATE reservations SET status = $3, updated_at = now()
        WHERE order_id = $1 AND status = $2 RETURNING product_id, quantity)
     UPDATE stock s SET ${stockChange} FROM (SELECT * FROM r ORDER BY product_id) r WHERE s.product_id = r.product_id`,
    [orderId, from, to],
  );
}

export interface StockRow {
  product_id: string;
  on_hand: number;
  available: number;
  held: number;
  sold: number;
}

export async function stockOf(pool: Pool | Client, productIds: string[]): Promise<StockRow[]> {
  const result = await pool.query<StockRow>(
    `SELECT product_id, on_hand, available, held, sold FROM stock WHERE product_id = ANY($1::text[]) ORDER BY product_id`,
    [productIds],
  );
  return result.rows;
}

export interface NewProduct {
  id: string;
  name: string;
  price: string;
  currency: string;
  stock: number;
}

/** Creates a product with its stock, or tops up the stock of an existing one by `stock` units. */
export async function upsertProduct(client: Client | Pool, product: NewProduct): Promise<void> {
  await client.query(
    `WITH p AS (
       INSERT INTO products (id, name, price, currency) VALUES ($1, $2, $3, $4)
       ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name, price = EXCLUDED.price RETURNING id)
     INSERT INTO stock (product_id, on_hand, available) SELECT id, $5, $5 FROM p
     ON CONFLICT (product_id) DO UPDATE SET on_hand = stock.on_hand + $5, available = stock.available + $5`,
    [product.id, product.name, product.price, product.currency, product.stock],
  );
}
