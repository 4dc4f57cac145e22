// Checks the whole ledger and says what is wrong, where. Balances are derived from entries, never
// from a cache. The database already refuses unbalanced commits; this check proves it held.
import pg from 'pg';
import { withTransaction } from '../platform/db.ts';
import { Decimal, isCurrency, money, roundToMinor, toAmountString } from '../domain/money.ts';
import type { Queryable } from './ledger.sql.ts';

export interface LedgerProblem {
  transaction_id?: string;
  account_id?: string;
  currency?: string;
  problem: string;
}

export interface LedgerValidation {
  balanced: boolean;
  transactions_checked: number;
  problems: LedgerProblem[];
}

export interface AccountBalance {
  account_id: string;
  balances: Array<{ currency: string; debits: string; credits: string; balance: string }>;
}

// Bounds the report of each check: a broken ledger must not turn validation into a flood.
const problemsPerCheckMax = 1000;
const signed = `CASE direction WHEN 'debit' THEN amount ELSE -amount END`;
const swapped = `CASE direction WHEN 'debit' THEN 'credit' ELSE 'debit' END`;

/**
 * Runs every check. Given a pool, all checks read one snapshot (REPEATABLE READ); given a client
 * inside a transaction, they read what that transaction sees, uncommitted rows included.
 */
export async function validateLedger(db: Queryable): Promise<LedgerValidation> {
  if (db instanceof pg.Pool) {
    return withTransaction(db, (client) => runChecks(client), { isolation: 'repeatable read' });
  }
  return runChecks(db);
}

async function runChecks(db: Queryable): Promise<LedgerValidation> {
  const counted = await db.query<{ count: number }>('SELECT count(*)::int AS count FROM ledger_transactions');
  const problems = [
    ...(await unbalancedTransactions(db)),
    ...(await malformedTransactions(db)),
    ...(await reversalsThatDoNotMirror(db)),
    ...(await trialBalance(db)),
    ...(await duplicatePostings(db)),
  ];
  return { balanced: problems.length === 0, transactions_checked: counted.rows[0]?.count ?? 0, problems };
}

async function unbalancedTransactions(db: Queryable): Promise<LedgerProblem[]> {
  const result = await db.query<{ transaction_id: string; currency: string; net: string }>(
    `SELECT transaction_id, currency, sum(${signed})::text AS net
       FROM ledger_entries GROUP BY transaction_id, currency HAVING sum(${signed}) <> 0
      ORDER BY transaction_id, currency LIMIT $1`,
    [problemsPerCheckMax],
  );
  return result.rows.map((row) => ({
    transaction_id: row.transaction_id,
    currency: row.currency,
    problem: `unbalanced: debits - credits = ${row.net}`,
  }));
}

/** A posting needs two entries at least; the tombstone (a reversal of nothing) needs none. */
async function malformedTransactions(db: Queryable): Promise<LedgerProblem[]> {
  const result = await db.query<{ id: string; tombstone: boolean; entries: number }>(
    `SELECT t.id, (t.kind = 'order.reversal' AND t.reverses IS NULL) AS tombstone, count(e.id)::int AS entries
       FROM ledger_transactions t LEFT JOIN ledger_entries e ON e.transaction_id = t.id
      GROUP BY t.id
     HAVING (t.kind = 'order.reversal' AND t.reverses IS NULL) <> (count(e.id) = 0) OR count(e.id) = 1
      ORDER BY t.id LIMIT $1`,
    [problemsPerCheckMax],
  );
  return result.rows.map((row) => ({
    transaction_id: row.id,
    problem: row.tombstone
      ? `tombstone reversal has ${row.entries} entries; it must have none`
      : `transaction has ${row.entries} entries; it needs at least 2`,
  }));
}

/** A reversal must undo exactly its original payment of the same order: entries mirrored. */
async function reversalsThatDoNotMirror(db: Queryable): Promise<LedgerProblem[]> {
  const result = await db.query<{
    id: string;
    reverses: string;
    same_order: boolean;
    original_kind: string;
    mirrors: boolean;
  }>(
    `SELECT r.id, r.reverses, r.order_id = o.order_id AS same_order, o.kind AS original_kind,
            NOT EXISTS (
              (SELECT account_id, ${swapped}, amount, currency FROM ledger_entries WHERE transaction_id = o.id
               EXCEPT ALL
               SELECT account_id, direction, amount, currency FROM ledger_entries WHERE transaction_id = r.id)
              UNION ALL
              (SELECT account_id, direction, amount, currency FROM ledger_entries WHERE transaction_id = r.id
               EXCEPT ALL
               SELECT account_id, ${swapped}, amount, currency FROM ledger_entries WHERE transaction_id = o.id)
            ) AS mirrors
       FROM ledger_transactions r JOIN ledger_transactions o ON o.id = r.reverses
      WHERE r.kind = 'order.reversal'`,
  );
  const problems: LedgerProblem[] = [];
  for (const row of result.rows) {
    if (problems.length >= problemsPerCheckMax) break;
    const faults = [
      row.same_order ? null : 'belongs to another order than',
      row.original_kind === 'order.payment' ? null : `reverses a ${row.original_kind}, not a payment:`,
      row.mirrors ? null : 'does not mirror the entries of',
    ].filter((fault) => fault !== null);
    for (const fault of faults) {
      problems.push({ transaction_id: row.id, problem: `reversal ${fault} its original ${row.reverses}` });
    }
  }
  return problems;
}

async function trialBalance(db: Queryable): Promise<LedgerProblem[]> {
  const result = await db.query<{ currency: string; net: string }>(
    `SELECT currency, sum(${signed})::text AS net FROM ledger_entries
      GROUP BY currency HAVING sum(${signed}) <> 0 ORDER BY currency`,
  );
  return result.rows.map((row) => ({ currency: row.currency, problem: `trial balance is ${row.net}, not zero` }));
}

/** UNIQUE (order_id, kind) forbids this; the check proves the constraint is still there. */
async function duplicatePostings(db: Queryable): Promise<LedgerProblem[]> {
  const result = await db.query<{ order_id: string; kind: string; ids: string[] }>(
    `SELECT order_id, kind, array_agg(id::text ORDER BY id) AS ids FROM ledger_transactions
      GROUP BY order_id, kind HAVING count(*) > 1 ORDER BY order_id LIMIT $1`,
    [problemsPerCheckMax],
  );
  return result.rows.map((row) => ({
    transaction_id: row.ids[0] ?? '',
    problem: `order ${row.order_id} has ${row.ids.length} ${row.kind} transactions: ${row.ids.join(', ')}`,
  }));
}

/** The account's balance per currency (debits - credits), summed from its entries. */
export async function accountBalance(db: Queryable, accountId: string): Promise<AccountBalance> {
  const result = await db.query<{ currency: string; debits: string; credits: string }>(
    `SELECT currency,
            coalesce(sum(amount) FILTER (WHERE direction = 'debit'), 0)::text AS debits,
            coalesce(sum(amount) FILTER (WHERE direction = 'credit'), 0)::text AS credits
       FROM ledger_entries WHERE account_id = $1 GROUP BY currency ORDER BY currency`,
    [accountId],
  );
  return {
    account_id: accountId,
    balances: result.rows.map((row) => {
      const balance = new Decimal(row.debits).minus(row.credits);
      return {
        currency: row.currency,
        debits: reportAmount(row.debits, row.currency),
        credits: reportAmount(row.credits, row.currency),
        balance: reportAmount(balance, row.currency),
      };
    }),
  };
}

/**
 * The currency's minor digits when the engine knows the currency and the sum fits them; the exact
 * sum otherwise, so a report never rounds away an amount that should not be there.
 */
function reportAmount(amount: Decimal.Value, currency: string): string {
  const exact = new Decimal(amount);
  if (!isCurrency(currency)) return exact.toFixed();
  const value = money(exact, currency);
  return roundToMinor(value).amount.eq(exact) ? toAmountString(value) : exact.toFixed();
}
