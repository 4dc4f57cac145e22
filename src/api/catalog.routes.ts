// /api/v1/products: the catalogue with available stock.
import { Router } from 'express';
import { formatAmount } from '../domain/money.ts';
import type { Pool } from '../platform/db.ts';
import { sendError } from './errors.ts';

interface ProductRow {
  id: string;
  name: string;
  price: string;
  currency: string;
  on_hand: number;
  available: number;
  held: number;
  sold: number;
}

const productView = (p: ProductRow) => ({
  id: p.id,
  name: p.name,
  price: formatAmount(p.price, p.currency),
  currency: p.currency,
  stock: { on_hand: p.on_hand, available: p.available, held: p.held, sold: p.sold },
});

const selectProducts = `SELECT p.id, p.name, p.price, p.currency, s.on_hand, s.available, s.held, s.sold
                          FROM products p JOIN stock s ON s.product_id = p.id`;

export function catalogRouter(pool: Pool): Router {
  const router = Router();
  router.get('/', async (req, res) => {
    const limit = Math.min(Math.max(Number(req.query.limit ?? 100) || 100, 1), 500);
    const result = await pool.query<ProductRow>(`${selectProducts} ORDER BY p.id LIMIT $1`, [limit]);
    res.json({ products: result.rows.map(productView) });
  });
  router.get('/:id', async (req, res) => {
    const result = await pool.query<ProductRow>(`${selectProducts} WHERE p.id = $1`, [req.params.id]);
    const product = result.rows[0];
    if (product === undefined)
      return sendError(res, { code: 'product_not_found', field: 'id', message: 'no such product' });
    res.json(productView(product));
  });
  return router;
}
