// The race for the last unit: N buyers at once, exactly one confirmed, every other one rejected
// out_of_stock before any payment is attempted. Run with Redlock on and off (only the inventory
// worker takes the lock, so only it is restarted with the other setting).
import { upsertProduct } from '../../src/inventory/inventory.sql.ts';
import { finalStatuses } from '../../machines/order.status.ts';
import { sleep, type Pool } from '../../src/platform/db.ts';
import type { Fleet } from './fleet.ts';
import { LoadGenerator } from './load.ts';
import type { RaceRound } from './report.ts';
import type { PlannedOrder } from './schedule.ts';

export interface RaceContext {
  pool: Pool;
  fleet: Fleet;
  apiUrl: string;
  token: string;
  tag: string;
  orders: readonly PlannedOrder[];
  finalTimeoutMs: number;
}

async function waitAllFinal(pool: Pool, ids: string[], timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const open = await pool.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM orders WHERE id = ANY($1::uuid[])
          AND status <> ALL($2::text[])`,
      [ids, [...finalStatuses]],
    );
    if (open.rows[0]?.n === 0) return true;
    await sleep(100);
  }
  return false;
}

export async function raceRound(context: RaceContext, redlock: 'on' | 'off'): Promise<RaceRound> {
  const { pool, fleet } = context;
  // Restart the inventory worker with this round's setting (the kill is the runner's own: not a failure).
  await fleet.kill('inventory');
  await fleet.start('inventory', { REDLOCK_ENABLED: redlock === 'on' ? 'true' : 'false' });
  const roundTag = `${context.tag}-${redlock}`;
  const productId = `chaos-${roundTag}-last`;
  await upsertProduct(pool, {
    id: productId,
    name: `last unit (${roundTag})`,
    price: '10.00',
    currency: 'USD',
    stock: 1,
  });
  const fixtures = { tag: roundTag, productIds: [productId], couponCodes: { plenty: '', few: '' } };
  const load = new LoadGenerator(context.apiUrl, context.token, fixtures, context.orders.length);
  const started = Date.now();
  await load.run(context.orders, () => false);
  const allAnsweredMs = Date.now() - started;
  // Judged on every order of this product in PostgreSQL, not only on the ids the API answered with:
  // an order whose answer was lost (and retried) still counts.
  const placed = await pool.query<{ id: string }>(
    `SELECT id::text FROM orders WHERE items @> jsonb_build_array(jsonb_build_object('product_id', $1::text))`,
    [productId],
  );
  const ids = placed.rows.map((r) => r.id);
  const final = await waitAllFinal(pool, ids, context.finalTimeoutMs);
  const allFinalMs = final ? Date.now() - started : null;
  const outcomes = await pool.query<{ status: string; reason: string | null; n: number }>(
    `SELECT status, failure_reason AS reason, count(*)::int AS n FROM orders WHERE id = ANY($1::uuid[])
      GROUP BY status, failure_reason`,
    [ids],
  );
  const attempts = await pool.query<{ n: number }>(
    `SELECT (SELECT count(*) FROM payments y JOIN orders o ON o.id = y.order_id
              WHERE o.id = ANY($1::uuid[]) AND o.status <> 'confirmed')
          + (SELECT count(*) FROM provider_charges p JOIN orders o ON o.id = p.order_id
              WHERE o.id = ANY($1::uuid[]) AND o.status <> 'confirmed') AS n`,
    [ids],
  );
  let confirmed = 0;
  let rejectedOutOfStock = 0;
  const other: Record<string, number> = {};
  for (const row of outcomes.rows) {
    if (row.status === 'confirmed') confirmed += row.n;
    else if (row.status === 'rejected' && row.reason === 'out_of_stock') rejectedOutOfStock += row.n;
    else other[`${row.status} (${row.reason ?? '-'})`] = row.n;
  }
  const buyers = context.orders.length;
  const paymentAttempts = Number(attempts.rows[0]?.n ?? 0);
  const answeredAll = load.stats.accepted === buyers;
  const pass =
    answeredAll && confirmed === 1 && rejectedOutOfStock === ids.length - 1 && paymentAttempts === 0 && final;
  return {
    redlock,
    buyers,
    ordersPlaced: ids.length,
    productId,
    allAnsweredMs,
    allFinalMs,
    confirmed,
    rejectedOutOfStock,
    other,
    refused: load.stats.refused.length,
    unanswered: load.stats.unanswered,
    paymentAttempts,
    pass,
  };
}
