// /api/v1/accounts/{id}/balance and /transactions, and /api/v1/ledger/validate: balances and
// entries derived from the journal. A customer reads only customer:<their id>; any other account
// answers 404, exactly like one that does not exist.
import type { Response } from 'express';
import { formatAmount } from '../domain/money.ts';
import { accountEntries, accountExists, type EntryLine } from '../ledger/ledger.queries.ts';
import { accountBalance, validateLedger } from '../ledger/ledger.validation.queries.ts';
import type { Pool } from '../platform/db.ts';
import { mayReadAccount, principalOf } from './auth.middleware.ts';
import { decodeCursor, encodeCursor, entryId } from './cursor.ts';
import { sendError } from './errors.ts';
import type { RouteBook } from './route-book.ts';
import {
  accountIdParams,
  balanceSchema,
  ledgerValidationSchema,
  transactionsPageSchema,
  transactionsQuery,
} from './schemas.ts';

const lineView = (line: EntryLine) => ({
  account_id: line.account_id,
  direction: line.direction,
  amount: formatAmount(line.amount, line.currency),
  currency: line.currency,
});

/** Whether the caller may read the account; when not, answers 404. */
function readable(res: Response, accountId: string): boolean {
  if (mayReadAccount(principalOf(res), accountId)) return true;
  sendError(res, { code: 'account_not_found', field: 'id', message: 'no such account' });
  return false;
}

export function ledgerRoutes(book: RouteBook, pool: Pool): void {
  book.add(
    {
      method: 'get',
      path: '/accounts/{id}/balance',
      summary: 'An account’s balance per currency (debits - credits), from its entries',
      tag: 'accounts',
      access: 'customer',
      params: accountIdParams,
      responses: { 200: { description: 'the balance', schema: balanceSchema } },
      errors: ['validation_failed', 'account_not_found'],
    },
    async (_req, res, { params }) => {
      if (readable(res, params.id)) res.json(await accountBalance(pool, params.id));
    },
  );
  transactionsRoute(book, pool);
  book.add(
    {
      method: 'get',
      path: '/ledger/validate',
      summary: 'Admin: check the whole ledger and say what is wrong, where',
      tag: 'accounts',
      access: 'admin',
      responses: { 200: { description: 'the report', schema: ledgerValidationSchema } },
      errors: [],
    },
    async (_req, res) => {
      res.json(await validateLedger(pool));
    },
  );
}

function transactionsRoute(book: RouteBook, pool: Pool): void {
  book.add(
    {
      method: 'get',
      path: '/accounts/{id}/transactions',
      summary: 'An account’s journal entries, newest first, each with its counter-entries',
      tag: 'accounts',
      access: 'customer',
      params: accountIdParams,
      query: transactionsQuery,
      responses: { 200: { description: 'one page', schema: transactionsPageSchema } },
      errors: ['validation_failed', 'account_not_found'],
    },
    async (_req, res, { params, query }) => {
      if (!readable(res, params.id)) return;
      const before = query.cursor === undefined ? null : decodeCursor(query.cursor, [entryId]);
      if (before === null && query.cursor !== undefined) {
        return sendError(res, { code: 'validation_failed', field: 'cursor', message: 'not a cursor of this list' });
      }
      // Admins asking for an account that never existed get 404; a customer's own empty account is a page of nothing.
      if (principalOf(res).role === 'admin' && !(await accountExists(pool, params.id))) {
        return sendError(res, { code: 'account_not_found', field: 'id', message: 'no such account' });
      }
      const rows = await accountEntries(pool, params.id, query.limit + 1, before?.[0]);
      const page = rows.slice(0, query.limit);
      const last = page.at(-1);
      res.json({
        account_id: params.id,
        entries: page.map((row) => ({
          entry_id: row.id,
          transaction_id: row.transaction_id,
          order_id: row.order_id,
          kind: row.kind,
          description: row.description,
          ...lineView(row),
          at: row.created_at.toISOString(),
          counter_entries: row.counter_entries.map(lineView),
        })),
        next_cursor: rows.length > query.limit && last !== undefined ? encodeCursor([last.id]) : null,
      });
    },
  );
}
