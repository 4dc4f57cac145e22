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
  const stock = await client.query<{ product_id: string; available: number }>(
    `SELECT product_id, available FROM stock WHERE product_id = ANY($1::text[]) ORDER BY product_id FOR UPDATE`,
    [lines.map((l) => l.product_id)],
  );
  const available = new Map(stock.rows.map((r) => [r.product_id, r.available]));
  for (const line of lines) {
    const have = available.get(line.product_id);
    if (have === undefined) return refuse(client, orderId, { kind: 'unknown_product', productId: line.product_id });
    if (have < line.quantity) return refuse(client, orderId, { kind: 'out_of_stock', productId: line.product_id });
  }
  for (const line of lines) {
    const updated = await client.query(
      `UPDATE stock SET available = available - $2, held = held + $2 WHERE product_id = $1 AND available >= $2`,
      [line.product_id, line.quantity],
    );
    if (updated.rowCount !== 1) throw new Error(`conditional decrement failed under row lock for ${line.product_id}`);
  }
  await client.query(
    `INSERT INTO reservations (order_id, product_id, quantity, status, expires_at)
     SELECT $1, l.product_id, l.quantity, 'held', $3 FROM jsonb_to_recordset($2::jsonb) AS l(product_id text, quantity int)`,
    [orderId, JSON.stringify(lines), group.expires_at],
  );
  return { kind: 'reserved', expiresAt: group.expires_at.toISOString() };
}

async function refuse<R extends ReserveResult>(client: Client, orderId: string, result: R): Promise<R> {
  await client.query(`UPDATE reservation_groups SET status = 'refused', updated_at = now() WHERE order_id = $1`, [
    orderId,
  ]);
  return result;
}

/** held -> committed: the held units become sold. Returns the group's status afterwards. */
export async function commit(client: Client, orderId: string): Promise<GroupStatus | null> {
  const moved = await client.query(
    `UPDATE reservation_groups SET status = 'committed', updated_at = now() WHERE order_id = $1 AND status = 'held'`,
    [orderId],
  );
  if (moved.rowCount === 1) {
    await moveStock(client, orderId, 'held', 'committed', 'held = held - r.quantity, sold = sold + r.quantity');
    return 'committed';
  }
  const row = await client.query<{ status: GroupStatus }>(`SELECT status FROM reservation_groups WHERE order_id = $1`, [
    orderId,
  ]);
  return row.rows[0]?.status ?? null;
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
