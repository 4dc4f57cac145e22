// Invariants about money, each by its own SQL over the modules' tables (never the engine's code):
// the ledger balances, no order is charged twice, and provider, payments and ledger agree.
import { Decimal } from 'decimal.js';
import type { Queryable } from '../../src/platform/db.ts';
import { result, type CheckScope, type InvariantResult } from './check-types.ts';

const signed = `CASE direction WHEN 'debit' THEN amount ELSE -amount END`;

async function apiBalanceProblems(pool: Queryable, scope: CheckScope): Promise<string[]> {
  if (scope.api === null) return [];
  const accounts = await pool.query<{ account_id: string; currency: string; debits: string; credits: string }>(
    `SELECT e.account_id, e.currency,
            coalesce(sum(e.amount) FILTER (WHERE e.direction = 'debit'), 0)::text AS debits,
            coalesce(sum(e.amount) FILTER (WHERE e.direction = 'credit'), 0)::text AS credits
       FROM ledger_entries e
      WHERE e.account_id IN (SELECT 'customer:' || user_id FROM orders WHERE id = ANY($1::uuid[]) LIMIT 100)
         OR e.account_id IN ('merchant:revenue', 'discounts:coupons')
      GROUP BY e.account_id, e.currency`,
    [scope.orderIds],
  );
  const problems: string[] = [];
  for (const row of accounts.rows) {
    const response = await fetch(`${scope.api.url}/api/v1/accounts/${encodeURIComponent(row.account_id)}/balance`, {
      headers: { authorization: `Bearer ${scope.api.token}` },
    });
    const body = (await response.json()) as { balances?: Array<{ currency: string; debits: string; credits: string }> };
    const reported = body.balances?.find((b) => b.currency === row.currency);
    const agrees =
      reported !== undefined &&
      new Decimal(reported.debits).eq(row.debits) &&
      new Decimal(reported.credits).eq(row.credits);
    if (!agrees) {
      problems.push(
        `account ${row.account_id} ${row.currency}: entries sum to debits ${row.debits} / credits ${row.credits}, ` +
          `the API says ${JSON.stringify(reported ?? body)}`,
      );
    }
  }
  return problems;
}

export async function checkLedger(pool: Queryable, scope: CheckScope): Promise<InvariantResult> {
  const unbalanced = await pool.query<{ transaction_id: string; currency: string; net: string }>(
    `SELECT transaction_id::text, currency, sum(${signed})::text AS net
       FROM ledger_entries GROUP BY transaction_id, currency HAVING sum(${signed}) <> 0 LIMIT 100`,
  );
  const totals = await pool.query<{ currency: string; debits: string; credits: string; transactions: number }>(
    `SELECT currency,
            coalesce(sum(amount) FILTER (WHERE direction = 'debit'), 0)::text AS debits,
            coalesce(sum(amount) FILTER (WHERE direction = 'credit'), 0)::text AS credits,
            count(DISTINCT transaction_id)::int AS transactions
       FROM ledger_entries GROUP BY currency ORDER BY currency`,
  );
  const problems = unbalanced.rows.map(
    (r) => `transaction ${r.transaction_id} ${r.currency}: debits - credits = ${r.net}`,
  );
  for (const t of totals.rows) {
    if (!new Decimal(t.debits).eq(t.credits))
      problems.push(`${t.currency} in total: debits ${t.debits} != credits ${t.credits}`);
  }
  const apiProblems = await apiBalanceProblems(pool, scope);
  problems.push(...apiProblems);
  const figures = totals.rows.map(
    (t) => `${t.currency}: ${t.transactions} transactions, debits ${t.debits} = credits ${t.credits}`,
  );
  figures.push(
    scope.api === null
      ? 'account balances: API not running, not compared'
      : 'account balances: the API agrees with the entries',
  );
  const count = totals.rows.reduce((sum, t) => sum + t.transactions, 0);
  return result('ledger balances', `${count} transactions`, problems, figures);
}

interface ChargeRow {
  id: string;
  status: string;
  total: string;
  currency: string;
  charges: number;
  provider: string;
  payments: string;
  ledger: string;
}

// The payments table's own account of the money kept: a charge counts when it succeeded, or when
// it was cancelled because its refund came before its answer (payments.sql.ts: the refund then
// moved money back, so the charge had happened); minus what the refunds moved back.
async function chargeRows(pool: Queryable, orderIds: string[]): Promise<ChargeRow[]> {
  const rows = await pool.query<ChargeRow>(
    `SELECT o.id::text, o.status, o.total::text, o.currency,
            (SELECT count(*) FROM provider_charges p
              WHERE p.order_id = o.id AND p.kind = 'charge' AND p.status = 'succeeded')::int AS charges,
            (SELECT coalesce(sum(CASE p.kind WHEN 'charge' THEN p.amount ELSE -p.amount END), 0) FROM provider_charges p
              WHERE p.order_id = o.id AND p.status = 'succeeded')::text AS provider,
            coalesce((SELECT coalesce(sum(y.amount) FILTER (WHERE y.kind = 'charge' AND (y.status = 'succeeded'
                      OR (y.status = 'cancelled' AND refunded.amount > 0))), 0)
                  - coalesce(refunded.amount, 0)
               FROM payments y
               LEFT JOIN LATERAL (SELECT sum(r.amount) AS amount FROM payments r
                           WHERE r.order_id = o.id AND r.kind = 'refund' AND r.status = 'succeeded') refunded ON true
              WHERE y.order_id = o.id
              GROUP BY refunded.amount), 0)::text AS payments,
            (SELECT coalesce(sum(CASE e.direction WHEN 'debit' THEN e.amount ELSE -e.amount END), 0)
               FROM ledger_entries e JOIN ledger_transactions t ON t.id = e.transaction_id
              WHERE t.order_id = o.id AND e.account_id = 'customer:' || o.user_id)::text AS ledger
       FROM orders o WHERE o.id = ANY($1::uuid[]) ORDER BY o.created_at`,
    [orderIds],
  );
  return rows.rows;
}

export async function checkMoney(pool: Queryable, scope: CheckScope): Promise<InvariantResult[]> {
  const rows = await chargeRows(pool, scope.orderIds);
  const doubleCharge: string[] = [];
  const disagree: string[] = [];
  const captured = new Map<string, Decimal>();
  for (const r of rows) {
    const expected = r.status === 'confirmed' ? new Decimal(r.total) : new Decimal(0);
    const provider = new Decimal(r.provider);
    if (r.charges > 1) doubleCharge.push(`order ${r.id} (${r.status}): ${r.charges} succeeded charges`);
    if (!provider.eq(expected)) {
      doubleCharge.push(
        `order ${r.id} (${r.status}): provider holds ${r.provider} ${r.currency}, expected ${expected.toFixed(4)}`,
      );
    }
    if (!provider.eq(r.payments) || !provider.eq(r.ledger)) {
      disagree.push(
        `order ${r.id} (${r.status}): provider ${r.provider}, payments ${r.payments}, ledger ${r.ledger} ${r.currency}`,
      );
    }
    captured.set(r.currency, (captured.get(r.currency) ?? new Decimal(0)).plus(provider));
  }
  const confirmed = rows.filter((r) => r.status === 'confirmed').length;
  const checked = `${rows.length} orders`;
  const net = [...captured].map(([currency, amount]) => `${amount.toFixed(2)} ${currency}`).join(', ') || '0';
  return [
    result('no double charge', checked, doubleCharge, [
      `${confirmed} confirmed orders hold exactly their total at the provider, ${rows.length - confirmed} others hold 0`,
      `net captured: ${net}`,
    ]),
    result('money agrees (provider = payments = ledger)', checked, disagree, [
      `per order, provider net = payments net = customer ledger net; together ${net}`,
    ]),
  ];
}
