// /api/v1/products and /api/v1/coupons: the catalogue with its stock and the coupons, for every
// caller to read; creating and changing them is for admins. Stock changes go through the
// inventory module's own conditional statements. Every change writes its audit row (who, what,
// the outcome) in the change's own transaction: both commit, or neither does.
import type { Request, Response } from 'express';
import { actorOf, outcomeOf } from '../audit/audit.actions.ts';
import { recordAudit, type AuditEntry } from '../audit/audit.sql.ts';
import { createCoupon, couponView, type NewCoupon } from '../coupons/coupons.create.ts';
import { findCoupon } from '../coupons/coupons.sql.ts';
import { formatAmount, isCurrency, parseMoney, roundToMinor } from '../domain/money.ts';
import {
  addStock,
  createProduct,
  findProduct,
  listProducts,
  setStock,
  updateProduct,
  type ProductStockRow,
  type StockChange,
} from '../inventory/inventory.catalog.sql.ts';
import { withTransaction, type Client, type Pool } from '../platform/db.ts';
import { principalOf } from './auth.middleware.ts';
import { decodeCursor, encodeCursor, productIdPart } from './cursor.ts';
import { sendError } from './errors.ts';
import { correlationIdOf } from './orders.routes.ts';
import type { RouteBook } from './route-book.ts';
import {
  addStockBody,
  couponCheckSchema,
  couponCodeParams,
  couponSchema,
  createCouponBody,
  createProductBody,
  productIdParams,
  productPageSchema,
  productSchema,
  productsQuery,
  setStockBody,
  updateProductBody,
} from './schemas.ts';

export const productView = (p: ProductStockRow) => ({
  id: p.id,
  name: p.name,
  price: formatAmount(p.price, p.currency),
  currency: p.currency,
  stock: { on_hand: p.on_hand, available: p.available, held: p.held, sold: p.sold },
});

const productNotFound = (res: Response) =>
  sendError(res, { code: 'product_not_found', field: 'id', message: 'no such product' });

/** A price is positive and has no more digits than the currency's minor unit. */
function priceProblem(price: string, currency: string): string | null {
  if (!isCurrency(currency)) return 'unknown currency';
  const value = parseMoney(price, currency);
  if (!value.amount.gt(0)) return 'must be above 0';
  return roundToMinor(value).amount.eq(value.amount) ? null : `must have at most the minor digits of ${currency}`;
}

type AuditedAction = Pick<AuditEntry, 'action' | 'productId' | 'target' | 'detail'>;

/** Runs `change` and its audit row in one transaction; `outcome` names the row's outcome from the change's value. */
async function audited<T>(
  pool: Pool,
  req: Request,
  res: Response,
  action: AuditedAction,
  change: (client: Client) => Promise<T>,
  outcome: (value: T) => string,
): Promise<T> {
  return withTransaction(pool, async (client) => {
    const value = await change(client);
    await recordAudit(client, {
      ...actorOf(principalOf(res)),
      ...action,
      outcome: outcome(value),
      correlationId: correlationIdOf(req),
    });
    return value;
  });
}

const stockOutcome = (change: StockChange) =>
  change.kind === 'changed' ? 'ok' : change.kind === 'not_found' ? 'product_not_found' : 'stock_conflict';

export function catalogRoutes(book: RouteBook, pool: Pool): void {
  productReads(book, pool);
  productWrites(book, pool);
  stockWrites(book, pool);
  couponRoutes(book, pool);
}

function productReads(book: RouteBook, pool: Pool): void {
  book.add(
    {
      method: 'get',
      path: '/products',
      summary: 'List products with their stock, in id order',
      tag: 'catalog',
      access: 'customer',
      query: productsQuery,
      responses: { 200: { description: 'one page', schema: productPageSchema } },
      errors: ['validation_failed'],
    },
    async (_req, res, { query }) => {
      const after = query.cursor === undefined ? null : decodeCursor(query.cursor, [productIdPart]);
      if (after === null && query.cursor !== undefined) {
        return sendError(res, { code: 'validation_failed', field: 'cursor', message: 'not a cursor of this list' });
      }
      const rows = await listProducts(pool, query.limit + 1, after?.[0]);
      const page = rows.slice(0, query.limit);
      const last = page.at(-1);
      res.json({
        products: page.map(productView),
        next_cursor: rows.length > query.limit && last !== undefined ? encodeCursor([last.id]) : null,
      });
    },
  );
  book.add(
    {
      method: 'get',
      path: '/products/{id}',
      summary: 'Read a product with its stock',
      tag: 'catalog',
      access: 'customer',
      params: productIdParams,
      responses: { 200: { description: 'the product', schema: productSchema } },
      errors: ['validation_failed', 'product_not_found'],
    },
    async (_req, res, { params }) => {
      const product = await findProduct(pool, params.id);
      if (product === undefined) return productNotFound(res);
      res.json(productView(product));
    },
  );
}

function productWrites(book: RouteBook, pool: Pool): void {
  const tag = 'admin';
  book.add(
    {
      method: 'post',
      path: '/products',
      summary: 'Admin: create a product with its initial stock',
      tag,
      access: 'admin',
      body: createProductBody,
      responses: { 201: { description: 'created', schema: productSchema } },
      errors: ['validation_failed', 'product_exists'],
    },
    async (req, res, { body }) => {
      const problem = priceProblem(body.price, body.currency);
      if (problem !== null) return sendError(res, { code: 'validation_failed', field: 'price', message: problem });
      const detail = { name: body.name, price: body.price, currency: body.currency, stock: body.stock };
      const inserted = await audited(
        pool,
        req,
        res,
        { action: 'product.create', productId: body.id, detail },
        (client) => createProduct(client, body),
        (ok) => (ok ? 'ok' : 'product_exists'),
      );
      if (!inserted) {
        return sendError(res, { code: 'product_exists', field: 'id', message: `product ${body.id} exists already` });
      }
      const created = await findProduct(pool, body.id);
      res.status(201).location(`/api/v1/products/${body.id}`).json(productView(created!));
    },
  );
  book.add(
    {
      method: 'patch',
      path: '/products/{id}',
      summary: 'Admin: rename or reprice a product (placed orders keep their price)',
      tag,
      access: 'admin',
      params: productIdParams,
      body: updateProductBody,
      responses: { 200: { description: 'updated', schema: productSchema } },
      errors: ['validation_failed', 'product_not_found'],
    },
    async (req, res, { params, body }) => {
      const product = await findProduct(pool, params.id);
      if (product === undefined) return productNotFound(res);
      const problem = body.price === undefined ? null : priceProblem(body.price, product.currency);
      if (problem !== null) return sendError(res, { code: 'validation_failed', field: 'price', message: problem });
      const detail = { ...body, previous: { name: product.name, price: product.price } };
      const updated = await audited(
        pool,
        req,
        res,
        { action: body.price === undefined ? 'product.rename' : 'product.reprice', productId: params.id, detail },
        (client) => updateProduct(client, params.id, body),
        (ok) => (ok ? 'ok' : 'product_not_found'),
      );
      if (!updated) return productNotFound(res);
      res.json(productView((await findProduct(pool, params.id))!));
    },
  );
}

function stockWrites(book: RouteBook, pool: Pool): void {
  const tag = 'admin';
  const stockAnswer = (res: Response, change: StockChange, conflict: string) => {
    if (change.kind === 'not_found') return productNotFound(res);
    if (change.kind === 'conflict') return sendError(res, { code: 'stock_conflict', message: conflict });
    res.json(productView(change.row));
  };
  book.add(
    {
      method: 'put',
      path: '/products/{id}/stock',
      summary: 'Admin: set on_hand (held and sold units stay; available takes the rest)',
      tag,
      access: 'admin',
      params: productIdParams,
      body: setStockBody,
      responses: { 200: { description: 'the product with its new stock', schema: productSchema } },
      errors: ['validation_failed', 'product_not_found', 'stock_conflict'],
    },
    async (req, res, { params, body }) => {
      const change = await audited(
        pool,
        req,
        res,
        { action: 'stock.set', productId: params.id, detail: { on_hand: body.on_hand } },
        (client) => setStock(client, params.id, body.on_hand),
        stockOutcome,
      );
      stockAnswer(res, change, 'on_hand cannot go below the units held by or sold to orders');
    },
  );
  book.add(
    {
      method: 'post',
      path: '/products/{id}/stock',
      summary: 'Admin: add available units (a negative quantity removes available units)',
      tag,
      access: 'admin',
      params: productIdParams,
      body: addStockBody,
      responses: { 200: { description: 'the product with its new stock', schema: productSchema } },
      errors: ['validation_failed', 'product_not_found', 'stock_conflict'],
    },
    async (req, res, { params, body }) => {
      const change = await audited(
        pool,
        req,
        res,
        { action: 'stock.add', productId: params.id, detail: { quantity: body.quantity } },
        (client) => addStock(client, params.id, body.quantity),
        stockOutcome,
      );
      stockAnswer(res, change, 'available units cannot go below 0');
    },
  );
}

function couponRoutes(book: RouteBook, pool: Pool): void {
  book.add(
    {
      method: 'get',
      path: '/coupons/{code}',
      summary: 'Is a coupon valid, and what does it take off',
      tag: 'catalog',
      access: 'customer',
      params: couponCodeParams,
      responses: { 200: { description: 'the coupon and whether it can be redeemed now', schema: couponCheckSchema } },
      errors: ['validation_failed', 'coupon_not_found'],
    },
    async (_req, res, { params }) => {
      const coupon = await findCoupon(pool, params.code);
      if (coupon === null) {
        return sendError(res, { code: 'coupon_not_found', field: 'code', message: 'no such coupon' });
      }
      const reason = coupon.expired
        ? 'expired'
        : coupon.redemptions_count >= coupon.redemptions_max
          ? 'exhausted'
          : null;
      res.json({ ...couponView(coupon), valid: reason === null, invalid_reason: reason });
    },
  );
  book.add(
    {
      method: 'post',
      path: '/coupons',
      summary: 'Admin: create a coupon (percent_off, or amount_off with currency)',
      tag: 'admin',
      access: 'admin',
      body: createCouponBody,
      responses: { 201: { description: 'created', schema: couponSchema } },
      errors: ['validation_failed', 'coupon_exists'],
    },
    async (req, res, { body }) => {
      const limits = {
        code: body.code,
        redemptionsMax: body.redemptions_max,
        expiresAt: body.expires_at === undefined ? null : new Date(body.expires_at),
      };
      const input: NewCoupon =
        body.kind === 'percent'
          ? { ...limits, kind: 'percent', percentOff: body.percent_off ?? '' }
          : { ...limits, kind: 'fixed', amountOff: body.amount_off ?? '', currency: body.currency ?? '' };
      const created = await audited(
        pool,
        req,
        res,
        { action: 'coupon.create', target: `coupon:${body.code}`, detail: { ...body } },
        (client) => createCoupon(client, input),
        outcomeOf,
      );
      if (!created.ok) {
        // createCoupon names fields in camelCase; the API's body uses snake_case.
        const field = created.error.field?.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
        return sendError(res, { ...created.error, ...(field === undefined ? {} : { field }) });
      }
      res.status(201).location(`/api/v1/coupons/${body.code}`).json(created.value);
    },
  );
}
