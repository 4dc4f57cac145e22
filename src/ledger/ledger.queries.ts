// Reads of the ledger for the API and the invariant check: an account's journal entries, newest
// first, each with the other entries of its transaction (the counter-entries), and the books' net
// per currency. Nothing here writes.
import type { Queryable } from './ledger.sql.ts';

export interface EntryLine {
  account_id: string;
  direction: 'debit' | 'credit';
  amount: string;
  currency: string;
}

export interface AccountEntryRow extends EntryLine {
  id: string;
  transaction_id: string;
  order_id: string;
  kind: 'order.payment' | 'order.reversal';
  description: string;
  created_at: Date;
  counter_entries: EntryLine[];
}

export async function accountExists(db: Queryable, accountId: string): Promise<boolean> {
  const result = await db.query(`SELECT 1 FROM ledger_accounts WHERE id = $1`, [accountId]);
  return result.rowCount === 1;
}

/** One page of the account's entries with id below `beforeId` (keyset on the entry id). */
export async function accountEntries(
  db: Queryable,
  accountId: string,
  limit: number,
  beforeId?: string,
): Promise<AccountEntryRow[]> {
  const result = await db.query<AccountEntryRow>(
    `SELECT e.id::text AS id, e.transaction_id, e.account_id, e.direction, e.amount::text AS amount, e.currency,
            t.order_id, t.kind, t.description, e.created_at,
            coalesce((SELECT jsonb_agg(jsonb_build_object('account_id', c.account_id, 'direction', c.direction,
                                                          'amount', c.amount::text, 'currency', c.currency) ORDER BY c.id)
                        FROM ledger_entries c WHERE c.transaction_id = e.transaction_id AND c.id <> e.id),
                     '[]'::jsonb) AS counter_entries
       FROM ledger_entries e JOIN ledger_transactions t ON t.id = e.transaction_id
      WHERE e.account_id = $1 AND ($2::bigint IS NULL OR e.id < $2::bigint)
      ORDER BY e.id DESC LIMIT $3`,
    [accountId, beforeId ?? null, limit],
  );
  return result.rows;
}

/** Debits minus credits over every entry, per currency (a decimal string): zero when the books balance. */
export async function ledgerNetByCurrency(db: Queryable): Promise<Map<string, string>> {
  const result = await db.query<{ currency: string; imbalance: string }>(
    `SELECT currency, sum(CASE direction WHEN 'debit' THEN amount ELSE -amount END)::text AS imbalance
       FROM ledger_entries GROUP BY currency`,
  );
  return new Map(result.rows.map((r) => [r.currency, r.imbalance]));
}
