// Invariants about orders and stock, each by its own SQL: nothing oversold, nothing left hanging,
// and every order's history a legal path through the machine definition.
import { initialTransition, transition } from 'xstate';
import { orderMachine } from '../../machines/order.machine.ts';
import { finalStatuses, stateName, statusOf } from '../../machines/order.status.ts';
import type { OrderEvent, OrderInput } from '../../machines/order.types.ts';
import type { Queryable } from '../../src/platform/db.ts';
import { result, type CheckScope, type InvariantResult } from './check-types.ts';

export async function checkStock(pool: Queryable): Promise<InvariantResult> {
  const rows = await pool.query<{
    product_id: string;
    on_hand: number;
    available: number;
    held: number;
    sold: number;
    reserved: number;
  }>(
    `SELECT s.product_id, s.on_hand, s.available, s.held, s.sold,
            coalesce((SELECT sum(r.quantity) FROM reservations r
                       WHERE r.product_id = s.product_id AND r.status = 'held'), 0)::int AS reserved
       FROM stock s ORDER BY s.product_id`,
  );
  const problems: string[] = [];
  for (const r of rows.rows) {
    const where = `${r.product_id}: on_hand ${r.on_hand}, available ${r.available}, held ${r.held}, sold ${r.sold}`;
    if (r.available + r.held + r.sold !== r.on_hand) problems.push(`${where}: not conserved`);
    if (Math.min(r.on_hand, r.available, r.held, r.sold) < 0) problems.push(`${where}: below 0`);
    if (r.held !== r.reserved) problems.push(`${where}: held reservations add up to ${r.reserved}`);
  }
  const sold = rows.rows.reduce((sum, r) => sum + r.sold, 0);
  return result('no oversell', `${rows.rowCount} products`, problems, [
    `on_hand = available + held + sold for every product, none below 0; ${sold} units sold in all`,
  ]);
}

export async function checkOrphans(pool: Queryable, scope: CheckScope): Promise<InvariantResult> {
  const open = await pool.query<{ id: string; status: string; state: string }>(
    `SELECT id::text, status, state FROM orders WHERE id = ANY($1::uuid[]) AND status <> ALL($2::text[])`,
    [scope.orderIds, [...finalStatuses]],
  );
  const held = await pool.query<{ order_id: string; status: string; product_id: string; quantity: number }>(
    `SELECT r.order_id::text, o.status, r.product_id, r.quantity FROM reservations r JOIN orders o ON o.id = r.order_id
      WHERE r.status = 'held' AND o.status = ANY($1::text[]) LIMIT 100`,
    [[...finalStatuses]],
  );
  const coupons = await pool.query<{ order_id: string; status: string; coupon_code: string }>(
    `SELECT c.order_id::text, coalesce(o.status, 'no order') AS status, c.coupon_code
       FROM coupon_redemptions c LEFT JOIN orders o ON o.id = c.order_id
      WHERE c.status = 'redeemed' AND o.status IS DISTINCT FROM 'confirmed'
        AND (o.status IS NULL OR o.status = ANY($1::text[])) LIMIT 100`,
    [[...finalStatuses]],
  );
  const counts = await pool.query<{ code: string; counted: number; redeemed: number }>(
    `SELECT k.code, k.redemptions_count AS counted,
            (SELECT count(*) FROM coupon_redemptions c WHERE c.coupon_code = k.code AND c.status = 'redeemed')::int AS redeemed
       FROM coupons k`,
  );
  const problems = [
    ...open.rows.map((r) => `order ${r.id} is not final: ${r.status} (${r.state})`),
    ...held.rows.map((r) => `order ${r.order_id} (${r.status}) still holds ${r.quantity} x ${r.product_id}`),
    ...coupons.rows.map((r) => `order ${r.order_id} (${r.status}) keeps coupon ${r.coupon_code} redeemed`),
    ...counts.rows
      .filter((r) => r.counted !== r.redeemed)
      .map((r) => `coupon ${r.code} counts ${r.counted} redemptions, ${r.redeemed} are redeemed`),
  ];
  return result('no orphan', `${scope.orderIds.length} orders`, problems, [
    'every order final; no stock held and no coupon redeemed for an order that is final and not confirmed',
  ]);
}

interface HistoryRow {
  id: string;
  status: string;
  state: string;
  context: OrderInput;
  steps: Array<{ seq: number; from_state: string | null; to_state: string; event: OrderEvent }>;
}

/** Replays one order's transitions through the machine; the first illegal step, or null. */
export function illegalStep(order: HistoryRow): string | null {
  const input: OrderInput = {
    orderId: order.context.orderId,
    userId: order.context.userId,
    currency: order.context.currency,
    items: order.context.items,
    subtotal: order.context.subtotal,
    couponCode: order.context.couponCode,
    reservationTtlMs: order.context.reservationTtlMs,
    paymentDeadlineMs: order.context.paymentDeadlineMs,
  };
  let snapshot = initialTransition(orderMachine, input)[0];
  for (const [i, step] of order.steps.entries()) {
    if (step.seq !== i + 1) return `seq ${step.seq} where ${i + 1} was due`;
    const from = stateName(snapshot.value);
    if (step.from_state !== null && step.from_state !== from) {
      return `seq ${step.seq} (${step.event.type}) says from ${step.from_state}, the machine was in ${from}`;
    }
    snapshot = transition(orderMachine, snapshot, step.event)[0];
    const to = stateName(snapshot.value);
    if (to !== step.to_state)
      return `seq ${step.seq} (${step.event.type}) went to ${step.to_state}, the machine goes to ${to}`;
  }
  const last = stateName(snapshot.value);
  if (last !== order.state) return `stored state ${order.state}, the replay ends in ${last}`;
  const status = statusOf(last, snapshot.context);
  if (status !== order.status) return `stored status ${order.status}, the replay says ${status}`;
  return null;
}

export async function checkHistories(pool: Queryable, scope: CheckScope): Promise<InvariantResult> {
  const problems: string[] = [];
  let steps = 0;
  const pageSize = 500;
  for (let offset = 0; offset < scope.orderIds.length; offset += pageSize) {
    const page = scope.orderIds.slice(offset, offset + pageSize);
    const rows = await pool.query<HistoryRow>(
      `SELECT o.id::text, o.status, o.state, o.snapshot->'context' AS context,
              coalesce((SELECT json_agg(json_build_object('seq', t.seq, 'from_state', t.from_state,
                         'to_state', t.to_state, 'event', t.event) ORDER BY t.seq)
                          FROM order_transitions t WHERE t.order_id = o.id), '[]') AS steps
         FROM orders o WHERE o.id = ANY($1::uuid[])`,
      [page],
    );
    for (const order of rows.rows) {
      steps += order.steps.length;
      const problem = illegalStep(order);
      if (problem !== null) problems.push(`order ${order.id}: ${problem}`);
    }
  }
  return result('history is a legal path', `${scope.orderIds.length} orders, ${steps} transitions`, problems, [
    `every order's ${steps > 0 ? 'transitions replay' : 'history replays'} through the machine to its stored state and status`,
  ]);
}

/**
 * One order per client request. The runner sends every planned order with its own Idempotency-Key
 * and the same key as X-Correlation-Id on each retry: two orders with one correlation id are a
 * request placed twice. Not meaningful for `ledger` over a live system.
 */
export async function checkOnePerRequest(pool: Queryable, scope: CheckScope): Promise<InvariantResult> {
  const rows = await pool.query<{ correlation_id: string; ids: string[] }>(
    `SELECT correlation_id, array_agg(id::text ORDER BY created_at) AS ids FROM orders
      WHERE id = ANY($1::uuid[]) GROUP BY correlation_id HAVING count(*) > 1 ORDER BY correlation_id LIMIT 100`,
    [scope.orderIds],
  );
  const problems = rows.rows.map(
    (r) => `request ${r.correlation_id} placed ${r.ids.length} orders: ${[...r.ids].sort().join(', ')}`,
  );
  return result('one order per request (Idempotency-Key)', `${scope.orderIds.length} orders`, problems, [
    'no request placed two orders, whatever its retries',
  ]);
}
