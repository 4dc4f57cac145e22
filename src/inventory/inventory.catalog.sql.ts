// The inventory module's catalogue statements for operators and the API: list and read products
// with their stock, create and update products, set and add stock. Every stock change keeps
// on_hand = available + held + sold in the same UPDATE, and is conditional, so it never touches
// units held by or sold to an order; the stock CHECKs stay the backstop.
import type { Queryable } from '../platform/db.ts';

export interface ProductStockRow {
  id: string;
  name: string;
  price: string;
  currency: string;
  on_hand: number;
  available: number;
  held: number;
  sold: number;
}

const selectProducts = `SELECT p.id, p.name, p.price::text AS price, p.currency, s.on_hand, s.available, s.held, s.sold
                          FROM products p JOIN stock s ON s.product_id = p.id`;

/** A page of products in id order, starting after `afterId`. */
export async function listProducts(db: Queryable, limit: number, afterId?: string): Promise<ProductStockRow[]> {
  const result = await db.query<ProductStockRow>(
    `${selectProducts} WHERE ($1::text IS NULL OR p.id > $1) ORDER BY p.id LIMIT $2`,
    [afterId ?? null, limit],
  );
  return result.rows;
}

/** The price and currency of each product that exists (an order prices its lines with these). */
export async function productPrices(
  db: Queryable,
  ids: string[],
): Promise<Map<string, { price: string; currency: string }>> {
  const result = await db.query<{ id: string; price: string; currency: string }>({
    name: 'products-price',
    text: `SELECT id, price, currency FROM products WHERE id = ANY($1::text[])`,
    values: [ids],
  });
  return new Map(result.rows.map((r) => [r.id, { price: r.price, currency: r.currency }]));
}

export async function findProduct(db: Queryable, id: string): Promise<ProductStockRow | undefined> {
  const result = await db.query<ProductStockRow>(`${selectProducts} WHERE p.id = $1`, [id]);
  return result.rows[0];
}

export interface NewCatalogProduct {
  id: string;
  name: string;
  price: string;
  currency: string;
  stock: number;
}

/** Creates a product with its stock row in one statement; false when the id is taken. */
export async function createProduct(db: Queryable, product: NewCatalogProduct): Promise<boolean> {
  const result = await db.query(
    `WITH p AS (
       INSERT INTO products (id, name, price, currency) VALUES ($1, $2, $3, $4)
       ON CONFLICT (id) DO NOTHING RETURNING id)
     INSERT INTO stock (product_id, on_hand, available) SELECT id, $5, $5 FROM p RETURNING product_id`,
    [product.id, product.name, product.price, product.currency, product.stock],
  );
  return result.rowCount === 1;
}

/**
 * Renames or reprices a product; false when it does not exist. Orders already placed keep the
 * unit price they were placed at (it is stored on the order).
 */
export async function updateProduct(
  db: Queryable,
  id: string,
  change: { name?: string | undefined; price?: string | undefined },
): Promise<boolean> {
  const result = await db.query(
    `UPDATE products SET name = coalesce($2, name), price = coalesce($3::numeric, price) WHERE id = $1`,
    [id, change.name ?? null, change.price ?? null],
  );
  return result.rowCount === 1;
}

export type StockChange = { kind: 'changed'; row: ProductStockRow } | { kind: 'not_found' } | { kind: 'conflict' };

/**
 * Sets on_hand; what is held and sold stays, available takes the rest. Refused (conflict) when
 * on_hand would fall below held + sold: those units belong to orders.
 */
export async function setStock(db: Queryable, productId: string, onHand: number): Promise<StockChange> {
  return changeStock(
    db,
    productId,
    `UPDATE stock SET on_hand = $2, available = $2 - held - sold
      WHERE product_id = $1 AND $2 - held - sold >= 0 RETURNING product_id`,
    onHand,
  );
}

/** Adds (or with a negative quantity removes) available units; refused below zero available. */
export async function addStock(db: Queryable, productId: string, quantity: number): Promise<StockChange> {
  return changeStock(
    db,
    productId,
    `UPDATE stock SET on_hand = on_hand + $2, available = available + $2
      WHERE product_id = $1 AND available + $2 >= 0 RETURNING product_id`,
    quantity,
  );
}

async function changeStock(db: Queryable, productId: string, sql: string, value: number): Promise<StockChange> {
  const changed = await db.query(sql, [productId, value]);
  const row = await findProduct(db, productId);
  if (row === undefined) return { kind: 'not_found' };
  return changed.rowCount === 1 ? { kind: 'changed', row } : { kind: 'conflict' };
}
