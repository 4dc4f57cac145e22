// Runs every invariant check; a check that throws is a failed invariant, with the error as evidence.
import type { Queryable } from '../../src/platform/db.ts';
import { checkEvents, checkNotifications } from './check-kafka.ts';
import { checkLedger, checkMoney } from './check-money.ts';
import { checkHistories, checkOnePerRequest, checkOrphans, checkStock } from './check-orders.ts';
import type { CheckScope, InvariantResult } from './check-types.ts';
import { runOrdersSql, tagPattern } from './progress.ts';

async function guarded(name: string, check: () => Promise<InvariantResult | InvariantResult[]>) {
  try {
    const outcome = await check();
    return Array.isArray(outcome) ? outcome : [outcome];
  } catch (error) {
    return [{ name, pass: false, checked: '-', evidence: [`the check itself failed: ${(error as Error).message}`] }];
  }
}

export async function runChecks(pool: Queryable, scope: CheckScope): Promise<InvariantResult[]> {
  return [
    ...(await guarded('ledger balances', () => checkLedger(pool, scope))),
    ...(await guarded('no oversell', () => checkStock(pool))),
    ...(await guarded('no orphan', () => checkOrphans(pool, scope))),
    ...(await guarded('no double charge / money agrees', () => checkMoney(pool, scope))),
    ...(await guarded('every event published and on the topic', () => checkEvents(pool, scope))),
    ...(await guarded('notifications at most once', () => checkNotifications(pool, scope))),
    ...(await guarded('history is a legal path', () => checkHistories(pool, scope))),
    ...(scope.onePerRequest
      ? await guarded('one order per request (Idempotency-Key)', () => checkOnePerRequest(pool, scope))
      : []),
  ];
}

/** The orders a run placed (found by its products, answered or not), or every order for `ledger`. */
export async function ordersInScope(pool: Queryable, tag: string | null): Promise<string[]> {
  const rows =
    tag === null
      ? await pool.query<{ id: string }>('SELECT id::text FROM orders ORDER BY created_at')
      : await pool.query<{ id: string }>(`SELECT id::text FROM (${runOrdersSql}) mine`, [tagPattern(tag)]);
  return rows.rows.map((r) => r.id);
}

export async function ordersByStatus(pool: Queryable, orderIds: string[]): Promise<Record<string, number>> {
  const rows = await pool.query<{ status: string; reason: string | null; n: number }>(
    `SELECT status, failure_reason AS reason, count(*)::int AS n FROM orders WHERE id = ANY($1::uuid[])
      GROUP BY status, failure_reason ORDER BY status, failure_reason`,
    [orderIds],
  );
  return Object.fromEntries(rows.rows.map((r) => [r.reason === null ? r.status : `${r.status} (${r.reason})`, r.n]));
}
