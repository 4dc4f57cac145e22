// The ledger's SQL: accounts, journal transactions and their entries. Entries and transactions are
// append-only (triggers refuse UPDATE and DELETE); a transaction's balance is checked at COMMIT.
import type { Client, Queryable } from '../platform/db.ts';
import { accountKindOf, type Direction, type Entry } from '../domain/posting.ts';

/** A pool or a client inside an open transaction: reads work on both. */
export type { Queryable };

export type TransactionKind = 'order.payment' | 'order.reversal';

export interface LedgerTransactionRow {
  id: string;
  order_id: string;
  kind: TransactionKind;
  reverses: string | null;
  description: string;
  created_at: Date;
}

// Namespace of the ledger's advisory locks (two-int form: never meets the one-bigint migration lock).
const ledgerLockNamespace = 727_101;

/**
 * Serializes every ledger change of one order until the transaction ends, so a post and a
 * reverse running at once in two workers see each other's result. The UNIQUE (order_id, kind)
 * constraint stays the real guard: without this lock the loser fails and its job retries.
 */
export async function lockOrderLedger(client: Client, orderId: string): Promise<void> {
  await lockOrderLedgers(client, [orderId]);
}

/** The same for many orders in one statement, taken in order-id order (every caller's order). */
export async function lockOrderLedgers(client: Client, orderIds: string[]): Promise<void> {
  await client.query({
    name: 'ledger-lock-orders',
    text: `SELECT pg_advisory_xact_lock(${ledgerLockNamespace}, hashtext(o.id))
             FROM (SELECT DISTINCT id FROM unnest($1::text[]) AS id ORDER BY id) AS o`,
    values: [orderIds],
  });
}

/** The order's journal transactions: at most one payment and one reversal. */
export async function findOrderTransactions(db: Queryable, orderId: string): Promise<LedgerTransactionRow[]> {
  return findOrdersTransactions(db, [orderId]);
}

/** The journal transactions of many orders, in one statement. */
export async function findOrdersTransactions(db: Queryable, orderIds: string[]): Promise<LedgerTransactionRow[]> {
  const result = await db.query<LedgerTransactionRow>({
    name: 'ledger-find-orders-transactions',
    text: `SELECT id, order_id::text, kind, reverses, description, created_at
             FROM ledger_transactions WHERE order_id = ANY($1::uuid[]) ORDER BY order_id, created_at, id`,
    values: [orderIds],
  });
  return result.rows;
}

export async function findEntries(db: Queryable, transactionId: string): Promise<Entry[]> {
  const result = await db.query<{ account_id: string; direction: Direction; amount: string; currency: string }>(
    `SELECT account_id, direction, amount, currency FROM ledger_entries WHERE transaction_id = $1 ORDER BY id`,
    [transactionId],
  );
  return result.rows.map((row) => ({
    accountId: row.account_id,
    direction: row.direction,
    amount: row.amount,
    currency: row.currency,
  }));
}

export interface NewTransaction {
  id: string;
  orderId: string;
  kind: TransactionKind;
  /** The reversed payment; null on a payment, and on the reversal tombstone. */
  reverses: string | null;
  description: string;
}

/**
 * Inserts one journal transaction, the accounts its entries name (each with the kind its prefix
 * implies; existing accounts are left alone) and its entries, in one statement. An empty entry
 * list is only valid for the reversal tombstone. A second transaction of the same kind for the
 * order fails on UNIQUE (order_id, kind); unbalanced entries fail at COMMIT.
 */
export async function insertTransaction(
  client: Client,
  transaction: NewTransaction,
  entries: readonly Entry[],
): Promise<void> {
  await insertTransactions(client, [{ transaction, entries }]);
}

/** Many journal transactions with their accounts and entries, in one statement (as above). */
export async function insertTransactions(
  client: Client,
  postings: ReadonlyArray<{ transaction: NewTransaction; entries: readonly Entry[] }>,
): Promise<void> {
  if (postings.length === 0) return;
  const entries = postings.flatMap((p) => p.entries.map((entry) => ({ ...entry, transactionId: p.transaction.id })));
  const accounts = [...new Set(entries.map((entry) => entry.accountId))].sort();
  await client.query({
    name: 'ledger-insert-transactions',
    text: `WITH journal AS (
       INSERT INTO ledger_transactions (id, order_id, kind, reverses, description)
       SELECT t.id, t.order_id, t.kind, t.reverses, t.description
         FROM jsonb_to_recordset($1::jsonb) AS t(id uuid, order_id uuid, kind text, reverses uuid, description text)
       RETURNING id),
     accounts AS (
       INSERT INTO ledger_accounts (id, kind)
       SELECT id, kind FROM unnest($2::text[], $3::text[]) AS a(id, kind) ORDER BY id
       ON CONFLICT (id) DO NOTHING)
     INSERT INTO ledger_entries (transaction_id, account_id, direction, amount, currency)
     SELECT e.transaction_id, e.account_id, e.direction, e.amount, e.currency
       FROM unnest($4::uuid[], $5::text[], $6::text[], $7::numeric[], $8::text[]) WITH ORDINALITY
            AS e(transaction_id, account_id, direction, amount, currency, position)
      WHERE e.transaction_id IN (SELECT id FROM journal)
      ORDER BY e.position`,
    values: [
      JSON.stringify(
        postings.map(({ transaction: t }) => ({
          id: t.id,
          order_id: t.orderId,
          kind: t.kind,
          reverses: t.reverses,
          description: t.description,
        })),
      ),
      accounts,
      accounts.map(accountKindOf),
      entries.map((entry) => entry.transactionId),
      entries.map((entry) => entry.accountId),
      entries.map((entry) => entry.direction),
      entries.map((entry) => entry.amount),
      entries.map((entry) => entry.currency),
    ],
  });
}
