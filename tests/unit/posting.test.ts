// The posting rules, as a specification: which accounts an order's payment moves, and what is refused.
import { describe, expect, it } from 'vitest';
import {
  accountKindOf,
  assertBalanced,
  orderPaymentEntries,
  reversalEntries,
  type Entry,
  type OrderPayment,
} from '../../src/domain/posting.ts';

const payment = (overrides: Partial<OrderPayment> = {}): OrderPayment => ({
  userId: 'alice',
  subtotal: '100.00',
  discount: '15.00',
  total: '85.00',
  currency: 'USD',
  ...overrides,
});

describe('orderPaymentEntries', () => {
  it.each([
    {
      name: 'customer pays the total, the coupon budget the discount, the merchant earns the subtotal',
      input: payment(),
      entries: [
        { accountId: 'customer:alice', direction: 'debit', amount: '85.00', currency: 'USD' },
        { accountId: 'discounts:coupons', direction: 'debit', amount: '15.00', currency: 'USD' },
        { accountId: 'merchant:revenue', direction: 'credit', amount: '100.00', currency: 'USD' },
      ],
    },
    {
      name: 'no discount: no discount entry',
      input: payment({ discount: '0', total: '100.00' }),
      entries: [
        { accountId: 'customer:alice', direction: 'debit', amount: '100.00', currency: 'USD' },
        { accountId: 'merchant:revenue', direction: 'credit', amount: '100.00', currency: 'USD' },
      ],
    },
    {
      name: 'a 100% coupon: no customer entry',
      input: payment({ discount: '100', total: '0.00' }),
      entries: [
        { accountId: 'discounts:coupons', direction: 'debit', amount: '100.00', currency: 'USD' },
        { accountId: 'merchant:revenue', direction: 'credit', amount: '100.00', currency: 'USD' },
      ],
    },
    {
      name: 'a currency without minor units',
      input: payment({ subtotal: '1200', discount: '200', total: '1000', currency: 'JPY' }),
      entries: [
        { accountId: 'customer:alice', direction: 'debit', amount: '1000', currency: 'JPY' },
        { accountId: 'discounts:coupons', direction: 'debit', amount: '200', currency: 'JPY' },
        { accountId: 'merchant:revenue', direction: 'credit', amount: '1200', currency: 'JPY' },
      ],
    },
  ])('$name', ({ input, entries }) => {
    expect(orderPaymentEntries(input)).toEqual(entries);
  });

  it.each([
    {
      name: 'negative discount',
      input: payment({ discount: '-5.00', total: '105.00' }),
      error: /must not be negative/,
    },
    { name: 'negative total', input: payment({ discount: '110.00', total: '-10.00' }), error: /must not be negative/ },
    { name: 'discount above subtotal', input: payment({ discount: '110.00', total: '0' }), error: /exceeds subtotal/ },
    { name: 'total is not subtotal - discount', input: payment({ total: '86.00' }), error: /is not subtotal/ },
    {
      name: 'zero subtotal',
      input: payment({ subtotal: '0', discount: '0', total: '0' }),
      error: /subtotal must be positive/,
    },
    { name: 'unknown currency', input: payment({ currency: 'XYZ' }), error: /unknown currency/ },
    {
      name: 'more digits than the currency has',
      input: payment({ subtotal: '100.001', total: '85.001' }),
      error: /more digits/,
    },
    {
      name: 'a fractional yen',
      input: payment({ subtotal: '10.5', discount: '0', total: '10.5', currency: 'JPY' }),
      error: /more digits/,
    },
    { name: 'not a number', input: payment({ subtotal: 'ten' }), error: /not a decimal amount/ },
    {
      name: 'a user id no account can carry',
      input: payment({ userId: 'bob smith' }),
      error: /cannot name a ledger account/,
    },
  ])('refuses $name', ({ input, error }) => {
    expect(() => orderPaymentEntries(input)).toThrow(error);
  });
});

describe('reversalEntries', () => {
  it('swaps every direction and keeps accounts and amounts', () => {
    const original = orderPaymentEntries(payment());
    expect(reversalEntries(original)).toEqual([
      { accountId: 'customer:alice', direction: 'credit', amount: '85.00', currency: 'USD' },
      { accountId: 'discounts:coupons', direction: 'credit', amount: '15.00', currency: 'USD' },
      { accountId: 'merchant:revenue', direction: 'debit', amount: '100.00', currency: 'USD' },
    ]);
  });

  it('undone twice is the original', () => {
    const original = orderPaymentEntries(payment());
    expect(reversalEntries(reversalEntries(original))).toEqual(original);
  });
});

describe('assertBalanced', () => {
  const entry = (
    direction: Entry['direction'],
    amount: string,
    currency = 'USD',
    accountId = 'customer:alice',
  ): Entry => ({
    accountId,
    direction,
    amount,
    currency,
  });

  it.each([
    {
      name: 'one debit, one credit',
      entries: [entry('debit', '10.00'), entry('credit', '10.00', 'USD', 'merchant:revenue')],
    },
    {
      name: 'two currencies, each balanced',
      entries: [
        entry('debit', '10.00'),
        entry('credit', '10'),
        entry('debit', '5', 'EUR'),
        entry('credit', '5.00', 'EUR'),
      ],
    },
    {
      name: 'amounts that differ only in trailing zeros',
      entries: [entry('debit', '10.5'), entry('credit', '10.5000')],
    },
  ])('accepts $name', ({ entries }) => {
    expect(() => assertBalanced(entries)).not.toThrow();
  });

  it.each([
    {
      name: 'debits above credits',
      entries: [entry('debit', '10.01'), entry('credit', '10.00')],
      error: /unbalanced in USD: debits - credits = 0.01/,
    },
    {
      name: 'mismatched currencies',
      entries: [entry('debit', '10.00', 'USD'), entry('credit', '10.00', 'EUR')],
      error: /unbalanced in USD/,
    },
    { name: 'a single entry', entries: [entry('debit', '10.00')], error: /at least 2 entries/ },
    { name: 'no entries', entries: [], error: /at least 2 entries/ },
    { name: 'a zero amount', entries: [entry('debit', '0'), entry('credit', '0')], error: /must be positive/ },
    { name: 'a negative amount', entries: [entry('debit', '-5'), entry('credit', '-5')], error: /must be positive/ },
    {
      name: 'an unknown currency',
      entries: [entry('debit', '5', 'XYZ'), entry('credit', '5', 'XYZ')],
      error: /unknown currency/,
    },
  ])('refuses $name', ({ entries, error }) => {
    expect(() => assertBalanced(entries)).toThrow(error);
  });
});

describe('accountKindOf', () => {
  it.each([
    ['customer:alice', 'asset'],
    ['merchant:revenue', 'revenue'],
    ['discounts:coupons', 'expense'],
  ])('%s is %s', (accountId, kind) => {
    expect(accountKindOf(accountId)).toBe(kind);
  });

  it.each(['merchant:fees', 'vendor:acme', 'no-prefix', 'customer:'])('refuses %s', (accountId) => {
    expect(() => accountKindOf(accountId)).toThrow();
  });
});
