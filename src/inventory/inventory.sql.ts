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
 * Holds stock for an order, in one statement. If the order already has a group (a redelivery, or a
 * release that came first and left its tombstone), nothing changes and its status is returned.
 * Otherwise the stock rows are locked in product-id order, so two reservations never deadlock; if
 * every line is there with enough available units, they move from available to held, the
 * reservations are written and the group is 'held'; else no stock changes and the group is
 * 'refused', naming the first short product. Each decrement is conditional on `available >=
 * quantity` under the row lock: this, and the stock CHECKs, not the Redis lock, prevent oversell.
 * A group that another transaction writes meanwhile wins (its insert is waited for, then this one
 * writes nothing) and is read again.
 */
export async function reserve(
  client: Client,
  orderId: string,
  items: OrderItem[],
  ttlMs: number,
): Promise<ReserveResult> {
  const lines = normalizeItems(items);
  const result = await client.query<{
    existing: GroupStatus | null;
    existing_expires_at: Date | null;
    claimed: GroupStatus | null;
    expires_at: Date | null;
    short_product: string | null;
    short_kind: 'out_of_stock' | 'unknown_product' | null;
    taken: number;
  }>({
    name: 'stock-reserve',
    text: `WITH lines AS (SELECT * FROM jsonb_to_recordset($2::jsonb) AS l(product_id text, quantity integer)),
       existing AS MATERIALIZED (SELECT status, expires_at FROM reservation_groups WHERE order_id = $1),
       locked AS MATERIALIZED (
         SELECT s.product_id, s.available FROM stock s
          WHERE NOT EXISTS (SELECT 1 FROM existing) AND s.product_id IN (SELECT product_id FROM lines)
          ORDER BY s.product_id FOR UPDATE),
       short AS MATERIALIZED (
         SELECT l.product_id,
                CASE WHEN k.product_id IS NULL THEN 'unknown_product' ELSE 'out_of_stock' END AS kind
           FROM lines l LEFT JOIN locked k ON k.product_id = l.product_id
          WHERE k.product_id IS NULL OR k.available < l.quantity
          ORDER BY l.product_id LIMIT 1),
       claimed AS MATERIALIZED (
         INSERT INTO reservation_groups (order_id, status, expires_at)
         SELECT $1, CASE WHEN EXISTS (SELECT 1 FROM short) THEN 'refused' ELSE 'held' END,
                now() + make_interval(secs => $3::double precision / 1000)
          WHERE NOT EXISTS (SELECT 1 FROM existing)
         ON CONFLICT (order_id) DO NOTHING RETURNING status, expires_at),
       taken AS (
         UPDATE stock s SET available = s.available - l.quantity, held = s.held + l.quantity
           FROM lines l
          WHERE s.product_id = l.product_id AND s.available >= l.quantity
            AND EXISTS (SELECT 1 FROM claimed WHERE status = 'held')
          RETURNING s.product_id),
       reserved AS (
         INSERT INTO reservations (order_id, product_id, quantity, status, expires_at)
         SELECT $1, l.product_id, l.quantity, 'held', c.expires_at
           FROM lines l CROSS JOIN claimed c WHERE c.status = 'held')
     SELECT (SELECT status FROM existing) AS existing, (SELECT expires_at FROM existing) AS existing_expires_at,
            (SELECT status FROM claimed) AS claimed, (SELECT expires_at FROM claimed) AS expires_at,
            (SELECT product_id FROM short) AS short_product, (SELECT kind FROM short) AS short_kind,
            (SELECT count(*)::int FROM taken) AS taken`,
    values: [orderId, JSON.stringify(lines), ttlMs],
  });
  const row = result.rows[0];
  if (row === undefined) throw new Error(`reserve of ${orderId} answered no row`);
  if (row.claimed === null) return alreadyReserved(client, orderId, row.existing, row.existing_expires_at);
  if (row.claimed === 'refused') {
    return { kind: row.short_kind ?? 'out_of_stock', productId: row.short_product ?? '' };
  }
  if (row.taken !== lines.length) throw new Error(`conditional decrement failed under row lock for ${orderId}`);
  return { kind: 'reserved', expiresAt: (row.expires_at ?? new Date()).toISOString() };
}

/** The group that was there before (or that another transaction wrote meanwhile: read afresh). */
async function alreadyReserved(
  client: Client,
  orderId: string,
  status: GroupStatus | null,
  expiresAt: Date | null,
): Promise<ReserveResult> {
  if (status !== null) return { kind: 'already', status, expiresAt: expiresAt?.toISOString() ?? null };
  const existing = await client.query<{ status: GroupStatus; expires_at: Date | null }>(
    `SELECT status, expires_at FROM reservation_groups WHERE order_id = $1`,
    [orderId],
  );
  const row = existing.rows[0];
  if (row === undefined) throw new Error(`reservation group for ${orderId} vanished`);
  return { kind: 'already', status: row.status, expiresAt: row.expires_at?.toISOString() ?? null };
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
