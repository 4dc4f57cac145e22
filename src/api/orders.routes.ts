// /api/v1/orders: place (202 + Location, optional `Prefer: wait=N`), read, cancel.
import { randomUUID } from 'node:crypto';
import { Router, type Request } from 'express';
import { placeOrder, readOrder, requestCancel, type OrderServiceDeps } from '../orders/order.service.ts';
import type { OrderRow } from '../orders/order.sql.ts';
import { sendError } from './errors.ts';
import { createOrderWaiter } from './order-waiter.ts';
import { withIdempotency } from './idempotency.ts';
import { orderView } from './order.view.ts';
import { createOrderSchema, uuidParam, validationErrors } from './validation.ts';

export interface OrdersRoutesDeps extends OrderServiceDeps {
  waitSecondsMax: number;
}

/** `Prefer: wait=N` (RFC 7240): seconds to wait for the order to leave pending, capped. */
export function preferredWaitMs(req: Request, capSeconds: number): number {
  const match = /(?:^|[,;\s])wait=(\d+)/.exec(req.get('Prefer') ?? '');
  return match?.[1] === undefined ? 0 : Math.min(Number(match[1]), capSeconds) * 1_000;
}

const ended = new Set(['cancelled', 'rejected', 'failed', 'expired']);

export function correlationIdOf(req: Request): string {
  const given = req.get('X-Correlation-Id');
  return given !== undefined && /^[A-Za-z0-9_.-]{1,100}$/.test(given) ? given : randomUUID();
}

const leftPending = (order: Pick<OrderRow, 'status'>) => order.status !== 'pending';

export function ordersRouter(deps: OrdersRoutesDeps): Router {
  const router = Router();
  const waiter = createOrderWaiter(deps.pool);

  router.post('/', async (req, res) => {
    const parsed = createOrderSchema.safeParse(req.body);
    if (!parsed.success) {
      const errors = validationErrors(parsed.error);
      return sendError(res, errors[0]!, errors);
    }
    await withIdempotency(deps.pool, req, res, async () => {
      const body = parsed.data;
      const placed = await placeOrder(deps, {
        userId: body.user_id,
        currency: body.currency,
        items: body.items,
        couponCode: body.coupon_code ?? null,
        shippingAddress: body.shipping_address,
        correlationId: correlationIdOf(req),
      });
      if (!placed.ok) return { status: 400, body: { error: placed.error } };
      const waited = await waiter.wait(placed.value.id, preferredWaitMs(req, deps.waitSecondsMax), leftPending);
      if (waited === undefined) throw new Error(`order ${placed.value.id} vanished after commit`);
      // 202 while the order is in flight; 201 when `Prefer: wait` saw it reach an outcome.
      return {
        status: waited.status === 'pending' ? 202 : 201,
        body: orderView(waited),
        headers: {
          Location: `/api/v1/orders/${waited.id}`,
          ...(req.get('Prefer') ? { 'Preference-Applied': 'wait' } : {}),
        },
      };
    });
  });

  router.get('/:id', async (req, res) => {
    if (!uuidParam.safeParse(req.params.id).success) {
      return sendError(res, { code: 'validation_failed', field: 'id', message: 'must be a UUID' });
    }
    const order = await readOrder(deps.pool, req.params.id);
    if (order === undefined) return sendError(res, { code: 'order_not_found', field: 'id', message: 'no such order' });
    res.json(orderView(order));
  });

  router.post('/:id/cancel', async (req, res) => {
    if (!uuidParam.safeParse(req.params.id).success) {
      return sendError(res, { code: 'validation_failed', field: 'id', message: 'must be a UUID' });
    }
    const cancelled = await requestCancel(deps, req.params.id, correlationIdOf(req));
    if (!cancelled.ok) return sendError(res, cancelled.error);
    const waitMs = preferredWaitMs(req, deps.waitSecondsMax);
    const waited = await waiter.wait(req.params.id, waitMs, (o) => ended.has(o.status));
    res.status(202).json(orderView(waited ?? cancelled.value));
  });

  return router;
}
