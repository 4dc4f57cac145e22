// The ledger on the real database: the schema refuses unbalanced and changed books, the worker
// posts and reverses once per order in any order and under concurrency, and validation finds
// what is wrong. Accounts shared by every order (merchant, discounts) are compared by difference.
import { randomUUID } from 'node:crypto';
import type { Job } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Decimal } from '../../src/domain/money.ts';
import { accountBalance, validateLedger } from '../../src/ledger/ledger.validation.queries.ts';
import { createLedgerHandler } from '../../src/ledger/ledger.worker.ts';
import type { CoreDeps } from '../../src/main/core-deps.ts';
import { PermanentError, type MessageHandler } from '../../src/messaging/module-worker.ts';
import { createTestDeps, messageFor } from '../support/harness.ts';

let deps: CoreDeps;
let handle: MessageHandler;
const job = {} as Job;

beforeAll(() => {
  deps = createTestDeps();
  handle = createLedgerHandler(deps);
});
afterAll(async () => {
  await deps.close();
});

const amounts = { subtotal: '100.00', discount: '15.00', total: '85.00', currency: 'USD' };
const newUser = () => `u-${randomUUID().slice(0, 8)}`;
const post = (orderId: string, userId: string, payload: Record<string, unknown> = amounts) =>
  handle(messageFor(orderId, 'ledger.post', { user_id: userId, ...payload }), job);
const reverse = (orderId: string) => handle(messageFor(orderId, 'ledger.reverse'), job);

async function transactionsOf(orderId: string) {
  const result = await deps.pool.query<{ id: string; kind: string; reverses: string | null; entries: number }>(
    `SELECT t.id, t.kind, t.reverses, count(e.id)::int AS entries
       FROM ledger_transactions t LEFT JOIN ledger_entries e ON e.transaction_id = t.id
      WHERE t.order_id = $1 GROUP BY t.id ORDER BY t.kind`,
    [orderId],
  );
  return result.rows;
}

async function answersOf(orderId: string) {
  const result = await deps.pool.query<{ type: string; payload: Record<string, unknown>; destination: string }>(
    `SELECT type, payload, destination FROM outbox WHERE key = $1 ORDER BY id`,
    [orderId],
  );
  return result.rows;
}

/** debits - credits of the account in USD, zero when it has no entries. */
async function netUsd(accountId: string): Promise<Decimal> {
  const { balances } = await accountBalance(deps.pool, accountId);
  return new Decimal(balances.find((b) => b.currency === 'USD')?.balance ?? 0);
}

describe('the schema guards the books', () => {
  it('refuses an unbalanced transaction at COMMIT', async () => {
    const client = await deps.pool.connect();
    const transactionId = randomUUID();
    const customer = `customer:${newUser()}`;
    try {
      await client.query('BEGIN');
      await client.query(`INSERT INTO ledger_accounts (id, kind) VALUES ($1, 'asset')`, [customer]);
      await client.query(
        `INSERT INTO ledger_transactions (id, order_id, kind, description) VALUES ($1, $2, 'order.payment', 'test')`,
        [transactionId, randomUUID()],
      );
      await client.query(
        `INSERT INTO ledger_entries (transaction_id, account_id, direction, amount, currency)
         VALUES ($1, $2, 'debit', 10, 'USD')`,
        [transactionId, customer],
      );
      // The trigger is deferred: the single entry is accepted until COMMIT.
      await expect(client.query('COMMIT')).rejects.toMatchObject({
        code: '23514',
        constraint: 'ledger_transaction_balanced',
        message: expect.stringMatching(/unbalanced in USD: debits - credits = 10/),
      });
    } finally {
      await client.query('ROLLBACK').catch(() => undefined);
      client.release();
    }
    const left = await deps.pool.query('SELECT 1 FROM ledger_transactions WHERE id = $1', [transactionId]);
    expect(left.rowCount).toBe(0);
  });

  it('refuses UPDATE and DELETE of entries and transactions', async () => {
    const orderId = randomUUID();
    await post(orderId, newUser());
    const [payment] = await transactionsOf(orderId);
    expect(payment?.kind).toBe('order.payment');
    const appendOnly = { code: '42501', message: expect.stringMatching(/append-only/) };
    await expect(
      deps.pool.query('UPDATE ledger_entries SET amount = amount + 1 WHERE transaction_id = $1', [payment?.id]),
    ).rejects.toMatchObject(appendOnly);
    await expect(
      deps.pool.query('DELETE FROM ledger_entries WHERE transaction_id = $1', [payment?.id]),
    ).rejects.toMatchObject(appendOnly);
    await expect(
      deps.pool.query(`UPDATE ledger_transactions SET description = 'x' WHERE id = $1`, [payment?.id]),
    ).rejects.toMatchObject(appendOnly);
    await expect(deps.pool.query('DELETE FROM ledger_transactions WHERE id = $1', [payment?.id])).rejects.toMatchObject(
      appendOnly,
    );
    expect((await transactionsOf(orderId))[0]?.entries).toBe(3);
  });
});

describe('ledger.post', () => {
  it('posts once, however often the command arrives', async () => {
    const orderId = randomUUID();
    const userId = newUser();
    await post(orderId, userId);
    await post(orderId, userId); // the same message again: the inbox drops it
    await handle(
      { ...messageFor(orderId, 'ledger.post', { user_id: userId, ...amounts }), messageId: `${orderId}.resent` },
      job,
    );
    const transactions = await transactionsOf(orderId);
    expect(transactions).toEqual([{ id: expect.any(String), kind: 'order.payment', reverses: null, entries: 3 }]);
    expect(await answersOf(orderId)).toEqual([
      { type: 'ledger.posted', payload: { transaction_id: transactions[0]?.id }, destination: 'queue:orders' },
    ]);
    expect((await accountBalance(deps.pool, `customer:${userId}`)).balances).toEqual([
      { currency: 'USD', debits: '85.00', credits: '0.00', balance: '85.00' },
    ]);
  });

  it('refuses amounts that do not add up, permanently and without writing', async () => {
    const orderId = randomUUID();
    const posting = post(orderId, newUser(), { ...amounts, total: '90.00' });
    await expect(posting).rejects.toBeInstanceOf(PermanentError);
    expect(await transactionsOf(orderId)).toEqual([]);
    expect(await answersOf(orderId)).toEqual([]);
  });

  it('refuses a message type it does not know', async () => {
    await expect(handle(messageFor(randomUUID(), 'ledger.transfer'), job)).rejects.toBeInstanceOf(PermanentError);
  });
});

describe('ledger.reverse', () => {
  it('after a post: every account returns to where it was, and the ledger validates', async () => {
    const orderId = randomUUID();
    const userId = newUser();
    const revenueBefore = await netUsd('merchant:revenue');
    const discountsBefore = await netUsd('discounts:coupons');

    await post(orderId, userId);
    expect((await netUsd(`customer:${userId}`)).toFixed(2)).toBe('85.00');
    expect((await netUsd('merchant:revenue')).minus(revenueBefore).toFixed(2)).toBe('-100.00');
    expect((await netUsd('discounts:coupons')).minus(discountsBefore).toFixed(2)).toBe('15.00');

    await reverse(orderId);
    await reverse(orderId); // a duplicate changes nothing
    expect((await accountBalance(deps.pool, `customer:${userId}`)).balances).toEqual([
      { currency: 'USD', debits: '85.00', credits: '85.00', balance: '0.00' },
    ]);
    expect((await netUsd('merchant:revenue')).eq(revenueBefore)).toBe(true);
    expect((await netUsd('discounts:coupons')).eq(discountsBefore)).toBe(true);

    const [payment, reversal] = await transactionsOf(orderId);
    expect(reversal).toEqual({ id: expect.any(String), kind: 'order.reversal', reverses: payment?.id, entries: 3 });
    expect((await answersOf(orderId)).map((a) => a.type)).toEqual(['ledger.posted', 'ledger.reversed']);
    const validation = await validateLedger(deps.pool);
    expect(validation.problems).toEqual([]);
    expect(validation.balanced).toBe(true);
    expect(validation.transactions_checked).toBeGreaterThanOrEqual(2);
  });

  it('before a post: leaves a tombstone, and the late post writes and answers nothing', async () => {
    const orderId = randomUUID();
    const userId = newUser();
    await reverse(orderId);
    await handle({ ...messageFor(orderId, 'ledger.reverse'), messageId: `${orderId}.resent` }, job);
    await post(orderId, userId);

    expect(await transactionsOf(orderId)).toEqual([
      { id: expect.any(String), kind: 'order.reversal', reverses: null, entries: 0 },
    ]);
    expect((await answersOf(orderId)).map((a) => a.type)).toEqual(['ledger.reversed']);
    expect((await accountBalance(deps.pool, `customer:${userId}`)).balances).toEqual([]);
  });

  it('races a post for 50 orders: each ends fully reversed or as a lone tombstone', async () => {
    const orders = Array.from({ length: 50 }, () => ({ orderId: randomUUID(), userId: newUser() }));
    await Promise.all(orders.flatMap(({ orderId, userId }) => [post(orderId, userId), reverse(orderId)]));

    const outcomes = { reversed: 0, tombstone: 0 };
    for (const { orderId, userId } of orders) {
      const transactions = await transactionsOf(orderId);
      const answered = (await answersOf(orderId)).map((a) => a.type).sort();
      const payment = transactions.find((t) => t.kind === 'order.payment');
      if (payment === undefined) {
        expect(transactions).toEqual([{ id: expect.any(String), kind: 'order.reversal', reverses: null, entries: 0 }]);
        expect(answered).toEqual(['ledger.reversed']);
        outcomes.tombstone += 1;
      } else {
        expect(transactions).toEqual([
          { id: payment.id, kind: 'order.payment', reverses: null, entries: 3 },
          { id: expect.any(String), kind: 'order.reversal', reverses: payment.id, entries: 3 },
        ]);
        expect(answered).toEqual(['ledger.posted', 'ledger.reversed']);
        outcomes.reversed += 1;
      }
      expect((await netUsd(`customer:${userId}`)).isZero()).toBe(true);
    }
    expect(outcomes.reversed + outcomes.tombstone).toBe(50);
    const validation = await validateLedger(deps.pool);
    expect(validation.problems).toEqual([]);
    expect(validation.balanced).toBe(true);
  });
});

describe('validateLedger', () => {
  it('names the transactions that are wrong (inside a transaction that is rolled back)', async () => {
    const client = await deps.pool.connect();
    const customer = `customer:${newUser()}`;
    const [original, mismatched, unbalanced] = [randomUUID(), randomUUID(), randomUUID()];
    try {
      await client.query('BEGIN');
      await client.query(
        `INSERT INTO ledger_accounts (id, kind) VALUES ($1, 'asset'), ('merchant:revenue', 'revenue') ON CONFLICT DO NOTHING`,
        [customer],
      );
      const orderId = randomUUID();
      await client.query(
        `INSERT INTO ledger_transactions (id, order_id, kind, reverses, description)
         VALUES ($1, $3, 'order.payment', NULL, 'test'), ($2, $3, 'order.reversal', $1, 'test'),
                ($4, $5, 'order.payment', NULL, 'test')`,
        [original, mismatched, orderId, unbalanced, randomUUID()],
      );
      // The reversal balances on its own but takes back 9.00 of a 10.00 payment.
      await client.query(
        `INSERT INTO ledger_entries (transaction_id, account_id, direction, amount, currency) VALUES
           ($1, $3, 'debit', 10, 'USD'), ($1, 'merchant:revenue', 'credit', 10, 'USD'),
           ($2, $3, 'credit', 9, 'USD'), ($2, 'merchant:revenue', 'debit', 9, 'USD'),
           ($4, $3, 'debit', 7, 'USD')`,
        [original, mismatched, customer, unbalanced],
      );

      const validation = await validateLedger(client);
      expect(validation.balanced).toBe(false);
      expect(validation.problems).toEqual(
        expect.arrayContaining([
          { transaction_id: mismatched, problem: `reversal does not mirror the entries of its original ${original}` },
          {
            transaction_id: unbalanced,
            currency: 'USD',
            problem: expect.stringMatching(/^unbalanced: debits - credits = 7/),
          },
          { transaction_id: unbalanced, problem: 'transaction has 1 entries; it needs at least 2' },
          { currency: 'USD', problem: expect.stringMatching(/^trial balance is 7(\.0+)?, not zero$/) },
        ]),
      );
      expect(validation.problems.some((p) => p.transaction_id === original)).toBe(false);
    } finally {
      await client.query('ROLLBACK');
      client.release();
    }
    const after = await validateLedger(deps.pool);
    expect(after.problems.filter((p) => p.transaction_id === mismatched || p.transaction_id === unbalanced)).toEqual(
      [],
    );
  });
});
