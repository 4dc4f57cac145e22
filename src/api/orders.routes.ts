// /api/v1/orders: place (202 + Location, optional `Prefer: wait=N`), list, read, history, cancel,
// and the operator's force-cancel. A customer reaches only their own orders: another's order id
// answers 404 exactly like one that does not exist.
import { randomUUID } from 'node:crypto';
import type { Request, Response } from 'express';
import type { z } from 'zod';
import { forceCancelRecorder } from '../audit/audit.actions.ts';
import {
  placeOrder,
  readOrder,
  requestCancel,
  type OrderServiceDeps,
  type PlaceOrderInput,
} from '../orders/order.service.ts';
import { listOrders, orderHistory } from '../orders/order.queries.ts';
import { sleep } from '../platform/db.ts';
import type { OrderRow } from '../orders/order.sql.ts';
import { mayActFor, principalOf } from './auth.middleware.ts';
import { decodeCursor, encodeCursor, micros, uuid } from './cursor.ts';
import { sendError } from './errors.ts';
import type { OrderWaiter } from './order-waiter.ts';
import { withIdempotency } from './idempotency.ts';
import { orderView } from './order.view.ts';
import type { RouteBook } from './route-book.ts';
import {
  forceCancelBody,
  listOrdersQuery,
  orderHistorySchema,
  orderIdParams,
  orderPageSchema,
  orderSchema,
} from './schemas.ts';
import { createOrderSchema } from './validation.ts';

export interface OrdersRoutesDeps extends OrderServiceDeps {
  waitSecondsMax: number;
  /** How long a key and its answer are kept (at least 24 h). */
  idempotencyKeyTtlMs: number;
  /** Chaos only: a pause between the order's commit and its answer, to kill the process there. */
  pauseAfterCommitMs?: number;
  /** Told of status changes, for `Prefer: wait`. */
  waiter: OrderWaiter;
}

/** `Prefer: wait=N` (RFC 7240): seconds to wait for the order to leave pending, capped. */
export function preferredWaitMs(req: Request, capSeconds: number): number {
  const match = /(?:^|[,;\s])wait=(\d{1,6})(?:$|[,;\s])/.exec(req.get('Prefer') ?? '');
  return match?.[1] === undefined ? 0 : Math.min(Number(match[1]), capSeconds) * 1_000;
}

const ended = new Set(['cancelled', 'rejected', 'failed', 'expired']);

/** The request's correlation id (the one its log line carries), or the given header, or a new one. */
export function correlationIdOf(req: Request): string {
  const logged = (req as { id?: unknown }).id;
  if (typeof logged === 'string' && /^[A-Za-z0-9_.-]{1,100}$/.test(logged)) return logged;
  const given = req.get('X-Correlation-Id');
  return given !== undefined && /^[A-Za-z0-9_.-]{1,100}$/.test(given) ? given : randomUUID();
}

const leftPending = (order: Pick<OrderRow, 'status'>) => order.status !== 'pending';
const notFound = (res: Response) => sendError(res, { code: 'order_not_found', field: 'id', message: 'no such order' });
const preferHeader = { name: 'Prefer', description: '`wait=N`: wait up to N seconds for an outcome' };

/** The order when it exists and the caller may see it; otherwise answers 404 and returns undefined. */
async function ownOrder(deps: OrdersRoutesDeps, res: Response, id: string): Promise<OrderRow | undefined> {
  const order = await readOrder(deps.pool, id);
  if (order === undefined || !mayActFor(principalOf(res), order.user_id)) {
    notFound(res);
    return undefined;
  }
  return order;
}

const tag = 'orders';

export function ordersRoutes(book: RouteBook, deps: OrdersRoutesDeps): void {
  placeRoute(book, deps);
  readRoutes(book, deps);
  cancelRoutes(book, deps);
}

function placeRoute(book: RouteBook, deps: OrdersRoutesDeps): void {
  book.add(
    {
      method: 'post',
      path: '/orders',
      summary: 'Place an order',
      tag,
      access: 'customer',
      limit: 'orders',
      body: createOrderSchema,
      headers: [
        {
          name: 'Idempotency-Key',
          description: 'retries with the same key and body are answered with the order it made',
        },
        preferHeader,
      ],
      responses: {
        201: { description: 'the order reached an outcome within Prefer: wait', schema: orderSchema },
        202: { description: 'accepted; the order is in flight', schema: orderSchema },
      },
      errors: [
        'validation_failed',
        'unknown_product',
        'unknown_currency',
        'currency_mismatch',
        'forbidden',
        'idempotency_request_in_progress',
        'idempotency_key_reused',
      ],
    },
    async (req, res, { body }) => {
      if (!mayActFor(principalOf(res), body.user_id)) {
        return sendError(res, {
          code: 'forbidden',
          field: 'user_id',
          message: 'user_id must be the token’s user (admins may order for anyone)',
        });
      }
      const answer = (order: OrderRow) => ({
        // 202 while the order is in flight; 201 when it reached an outcome.
        status: order.status === 'pending' ? 202 : 201,
        body: orderView(order),
        headers: {
          Location: `/api/v1/orders/${order.id}`,
          ...(req.get('Prefer') ? { 'Preference-Applied': 'wait' } : {}),
        },
      });
      await withIdempotency(
        deps.pool,
        req,
        res,
        {
          run: async (key) => {
            const orderId = randomUUID();
            // Watched before the write: the order may move before this request gets to wait.
            const watch = deps.waiter.watch(orderId);
            try {
              const placed = await placeOrder(deps, { ...placement(req, body), orderId }, key);
              if (!placed.ok) return { status: 400, body: { error: placed.error } };
              if (placed.value === null) return 'held';
              if ((deps.pauseAfterCommitMs ?? 0) > 0) await sleep(deps.pauseAfterCommitMs ?? 0);
              return answer(await watch.until(placed.value, preferredWaitMs(req, deps.waitSecondsMax), leftPending));
            } finally {
              watch.cancel();
            }
          },
          recover: async (orderId) => {
            const order = await readOrder(deps.pool, orderId);
            return order === undefined ? undefined : answer(order);
          },
        },
        deps.idempotencyKeyTtlMs,
      );
    },
  );
}

/** What the request asks to place. */
function placement(req: Request, body: z.infer<typeof createOrderSchema>): PlaceOrderInput {
  return {
    userId: body.user_id,
    currency: body.currency,
    items: body.items,
    couponCode: body.coupon_code ?? null,
    shippingAddress: body.shipping_address,
    correlationId: correlationIdOf(req),
  };
}

function readRoutes(book: RouteBook, deps: OrdersRoutesDeps): void {
  book.add(
    {
      method: 'get',
      path: '/orders',
      summary: 'List orders, newest first (a customer: their own)',
      tag,
      access: 'customer',
      query: listOrdersQuery,
      responses: { 200: { description: 'one page; pass next_cursor as cursor for the next', schema: orderPageSchema } },
      errors: ['validation_failed', 'forbidden'],
    },
    async (_req, res, { query }) => {
      const principal = principalOf(res);
      const userId = principal.role === 'admin' ? query.user_id : (query.user_id ?? principal.userId);
      if (userId !== undefined && !mayActFor(principal, userId)) {
        return sendError(res, { code: 'forbidden', field: 'user_id', message: 'customers list their own orders' });
      }
      const after = query.cursor === undefined ? null : decodeCursor(query.cursor, [micros, uuid]);
      if (after === null && query.cursor !== undefined) {
        return sendError(res, { code: 'validation_failed', field: 'cursor', message: 'not a cursor of this list' });
      }
      const page = await listOrders(deps.pool, {
        ...(userId === undefined ? {} : { userId }),
        ...(query.status === undefined ? {} : { status: query.status }),
        limit: query.limit,
        ...(after === null ? {} : { after: { createdAtMicros: after[0]!, id: after[1]! } }),
      });
      res.json({
        orders: page.orders.map(orderView),
        next_cursor: page.next === null ? null : encodeCursor([page.next.createdAtMicros, page.next.id]),
      });
    },
  );

  book.add(
    {
      method: 'get',
      path: '/orders/{id}',
      summary: 'Read an order',
      tag,
      access: 'customer',
      params: orderIdParams,
      responses: { 200: { description: 'the order', schema: orderSchema } },
      errors: ['validation_failed', 'order_not_found'],
    },
    async (_req, res, { params }) => {
      const order = await ownOrder(deps, res, params.id);
      if (order !== undefined) res.json(orderView(order));
    },
  );

  book.add(
    {
      method: 'get',
      path: '/orders/{id}/history',
      summary: 'The order’s transitions with their events, message ids and times',
      tag,
      access: 'customer',
      params: orderIdParams,
      responses: { 200: { description: 'transitions, oldest first', schema: orderHistorySchema } },
      errors: ['validation_failed', 'order_not_found'],
    },
    async (_req, res, { params }) => {
      if ((await ownOrder(deps, res, params.id)) === undefined) return;
      const transitions = await orderHistory(deps.pool, params.id);
      res.json({
        order_id: params.id,
        transitions: transitions.map((t) => ({
          seq: t.seq,
          from_state: t.from_state,
          to_state: t.to_state,
          event_type: t.event_type,
          message_id: t.message_id,
          event: t.event,
          at: t.created_at.toISOString(),
        })),
      });
    },
  );
}

function cancelRoutes(book: RouteBook, deps: OrdersRoutesDeps): void {
  const cancel = (reason: 'cancelled_by_customer' | 'cancelled_by_operator') => async (req: Request, res: Response) => {
    const id = String(req.params.id);
    if (reason === 'cancelled_by_customer' && (await ownOrder(deps, res, id)) === undefined) return;
    const correlationId = correlationIdOf(req);
    // An operator's cancel is audited in the cancel's own transaction, refused or not.
    const given = (req.body as { reason?: unknown } | undefined)?.reason;
    const audit =
      reason === 'cancelled_by_operator'
        ? forceCancelRecorder(principalOf(res), id, correlationId, {
            via: 'api',
            ...(typeof given === 'string' ? { reason: given } : {}),
          })
        : undefined;
    const watch = deps.waiter.watch(id);
    try {
      const cancelled = await requestCancel(deps, id, correlationId, reason, audit);
      if (!cancelled.ok) return sendError(res, cancelled.error);
      const waitMs = preferredWaitMs(req, deps.waitSecondsMax);
      res.status(202).json(orderView(await watch.until(cancelled.value, waitMs, (o) => ended.has(o.status))));
    } finally {
      watch.cancel();
    }
  };
  const cancelResponses = { 202: { description: 'cancel sent; compensation runs', schema: orderSchema } };

  book.add(
    {
      method: 'post',
      path: '/orders/{id}/cancel',
      summary: 'Cancel an order',
      tag,
      access: 'customer',
      params: orderIdParams,
      headers: [preferHeader],
      responses: cancelResponses,
      errors: ['validation_failed', 'order_not_found', 'order_not_cancellable'],
    },
    cancel('cancelled_by_customer'),
  );

  book.add(
    {
      method: 'post',
      path: '/orders/{id}/force-cancel',
      summary: 'Operator: force-cancel a stuck order (the machine gets its cancel event)',
      tag: 'admin',
      access: 'admin',
      params: orderIdParams,
      body: forceCancelBody,
      headers: [preferHeader],
      responses: cancelResponses,
      errors: ['validation_failed', 'order_not_found', 'order_not_cancellable'],
    },
    cancel('cancelled_by_operator'),
  );
}
