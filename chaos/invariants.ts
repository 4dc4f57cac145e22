// The invariant checker: what must hold after any run, however many processes were killed.
// Used by the chaos runner and by the integration tests. Each violation is one readable line.
import { Decimal } from 'decimal.js';
import { validateLedger } from '../src/ledger/ledger.validation.queries.ts';
import { providerNetByOrder } from '../src/payments/simulated.provider.ts';
import type { Pool } from '../src/platform/db.ts';
import { finalStatuses, isFinalStatus } from '../machines/order.status.ts';

export interface InvariantReport {
  ordersChecked: number;
  byStatus: Record<string, number>;
  violations: string[];
}

interface OrderFacts {
  id: string;
  status: string;
  total: string;
  held: number;
  redeemed: number;
  posted: number;
  reversed: number;
  posted_amount: string | null;
  /** Undo steps an operator marked as done by hand (needs_attention resolved with mark_compensated). */
  by_hand: string[];
}

async function orderFacts(pool: Pool, orderIds: readonly string[]): Promise<OrderFacts[]> {
  const result = await pool.query<OrderFacts>(
    `SELECT o.id::text, o.status, o.total::text,
            (SELECT count(*) FROM reservations r WHERE r.order_id = o.id AND r.status = 'held')::int AS held,
            (SELECT count(*) FROM coupon_redemptions c WHERE c.order_id = o.id AND c.status = 'redeemed')::int AS redeemed,
            (SELECT count(*) FROM ledger_transactions t WHERE t.order_id = o.id AND t.kind = 'order.payment')::int AS posted,
            (SELECT count(*) FROM ledger_transactions t WHERE t.order_id = o.id AND t.kind = 'order.reversal'
                AND t.reverses IS NOT NULL)::int AS reversed,
            (SELECT sum(e.amount) FROM ledger_entries e JOIN ledger_transactions t ON t.id = e.transaction_id
              WHERE t.order_id = o.id AND t.kind = 'order.payment' AND e.direction = 'credit')::text AS posted_amount,
            coalesce(o.snapshot->'context'->'compensatedByHand', '[]'::jsonb) AS by_hand
       FROM orders o WHERE o.id = ANY($1::uuid[])`,
    [[...orderIds]],
  );
  return result.rows;
}

/**
 * One order's books. An undo an operator marked as done by hand (outside the engine) is not
 * checked against the engine's tables: the refund, reversal, restore or release it stands for
 * happened elsewhere. An order still in needs_attention is not final: a violation until resolved.
 */
function checkOrder(order: OrderFacts, net: Decimal, charges: number, violations: string[]): void {
  const confirmed = order.status === 'confirmed';
  const where = `order ${order.id} (${order.status})`;
  const byHand = new Set(order.by_hand);
  if (!isFinalStatus(order.status)) violations.push(`${where} is not final`);
  if (order.held > 0 && !byHand.has('releasingStock'))
    violations.push(`${where} still holds ${order.held} reservation(s)`);
  if (charges > 1) violations.push(`${where} was charged ${charges} times`);
  if (confirmed && !net.eq(order.total))
    violations.push(`${where} net charge ${net.toFixed()} != total ${order.total}`);
  if (!confirmed && !net.isZero() && !byHand.has('refunding'))
    violations.push(`${where} keeps a net charge of ${net.toFixed()}`);
  if (!confirmed && order.redeemed > 0 && !byHand.has('restoringCoupon'))
    violations.push(`${where} keeps its coupon redeemed`);
  const bookedNet = order.posted - order.reversed;
  if (confirmed && bookedNet !== 1) violations.push(`${where} has ${bookedNet} net ledger postings, not 1`);
  if (!confirmed && bookedNet !== 0 && !byHand.has('reversingLedger'))
    violations.push(`${where} has ${bookedNet} net ledger postings, not 0`);
}

/** Checks the given orders (and the global invariants: ledger, stock). */
export async function checkInvariants(pool: Pool, orderIds: readonly string[]): Promise<InvariantReport> {
  const violations: string[] = [];
  const orders = await orderFacts(pool, orderIds);
  if (orders.length !== orderIds.length) violations.push(`${orderIds.length - orders.length} order(s) are missing`);
  const nets = new Map((await providerNetByOrder(pool, orderIds)).map((n) => [n.orderId, n]));
  const byStatus: Record<string, number> = {};
  for (const order of orders) {
    byStatus[order.status] = (byStatus[order.status] ?? 0) + 1;
    const net = nets.get(order.id);
    checkOrder(order, new Decimal(net?.net ?? 0), net?.chargesSucceeded ?? 0, violations);
  }
  const ledger = await validateLedger(pool);
  if (!ledger.balanced) violations.push(...ledger.problems.map((p) => `ledger: ${JSON.stringify(p)}`));
  const stock = await pool.query<{ product_id: string }>(
    `SELECT product_id FROM stock WHERE available + held + sold <> on_hand OR available < 0`,
  );
  violations.push(...stock.rows.map((r) => `stock of ${r.product_id} is not conserved`));
  return { ordersChecked: orders.length, byStatus, violations };
}

/** Waits until every given order is final, or the time runs out; returns the ones still open. */
export async function waitUntilFinal(pool: Pool, orderIds: readonly string[], timeoutMs: number): Promise<string[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const open = await pool.query<{ id: string }>(
      `SELECT id::text FROM orders WHERE id = ANY($1::uuid[]) AND status <> ALL($2::text[])`,
      [[...orderIds], [...finalStatuses]],
    );
    if (open.rowCount === 0 || Date.now() > deadline) return open.rows.map((r) => r.id);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
