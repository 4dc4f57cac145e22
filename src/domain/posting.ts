// Ledger posting rules, pure: which accounts an order's payment debits and credits, and how a
// posting is undone. Every amount is a decimal string at the currency's minor unit, never a float.
import {
  Decimal,
  isCurrency,
  money,
  parseMoney,
  roundToMinor,
  toAmountString,
  type Currency,
  type Money,
} from './money.ts';

export type Direction = 'debit' | 'credit';
export type AccountKind = 'asset' | 'liability' | 'revenue' | 'expense' | 'equity';

export interface Entry {
  accountId: string;
  direction: Direction;
  /** Positive, with exactly the currency's minor digits: "12.50", "1200" (JPY). */
  amount: string;
  currency: string;
}

export interface OrderPayment {
  userId: string;
  subtotal: string;
  discount: string;
  total: string;
  currency: string;
}

export const revenueAccount = 'merchant:revenue';
export const couponDiscountAccount = 'discounts:coupons';

// Mirrors the ledger_accounts.id CHECK, so a bad id fails here and not as a retried SQL error.
const accountIdPattern = /^[a-z]+:[A-Za-z0-9_.-]+$/;

export function customerAccount(userId: string): string {
  const accountId = `customer:${userId}`;
  if (!accountIdPattern.test(accountId)) throw new Error(`user id cannot name a ledger account: ${userId}`);
  return accountId;
}

/** The kind an account is created with, from its id's prefix. An unknown prefix is a bug. */
export function accountKindOf(accountId: string): AccountKind {
  if (!accountIdPattern.test(accountId)) throw new Error(`not a ledger account id: ${accountId}`);
  if (accountId.startsWith('customer:')) return 'asset';
  if (accountId === revenueAccount) return 'revenue';
  if (accountId.startsWith('discounts:')) return 'expense';
  throw new Error(`no account kind for ${accountId}`);
}

/** Parses an amount that must already sit at the currency's minor unit: no rounding here. */
function exactAmount(name: string, amount: string, currency: string): Money {
  const value = parseMoney(amount, currency);
  if (value.amount.isNegative()) throw new Error(`${name} must not be negative: ${amount}`);
  if (!roundToMinor(value).amount.eq(value.amount)) {
    throw new Error(`${name} has more digits than ${currency} allows: ${amount}`);
  }
  return value;
}

/**
 * The payment of an order: the customer pays the total, the coupon budget pays the discount,
 * and the merchant earns the whole subtotal. Zero amounts make no entry.
 */
export function orderPaymentEntries(payment: OrderPayment): Entry[] {
  const { currency } = payment;
  const subtotal = exactAmount('subtotal', payment.subtotal, currency);
  const discount = exactAmount('discount', payment.discount, currency);
  const total = exactAmount('total', payment.total, currency);
  if (subtotal.amount.isZero()) throw new Error('subtotal must be positive');
  if (discount.amount.gt(subtotal.amount)) {
    throw new Error(`discount ${payment.discount} exceeds subtotal ${payment.subtotal}`);
  }
  if (!total.amount.eq(subtotal.amount.minus(discount.amount))) {
    throw new Error(`total ${payment.total} is not subtotal ${payment.subtotal} - discount ${payment.discount}`);
  }
  const entries: Entry[] = [];
  if (!total.amount.isZero()) {
    entries.push({
      accountId: customerAccount(payment.userId),
      direction: 'debit',
      amount: toAmountString(total),
      currency,
    });
  }
  if (!discount.amount.isZero()) {
    entries.push({ accountId: couponDiscountAccount, direction: 'debit', amount: toAmountString(discount), currency });
  }
  entries.push({ accountId: revenueAccount, direction: 'credit', amount: toAmountString(subtotal), currency });
  assertBalanced(entries);
  return entries;
}

/** The undo of a posting: the same accounts and amounts, each direction swapped. */
export function reversalEntries(entries: readonly Entry[]): Entry[] {
  const reversed = entries.map((entry): Entry => ({
    ...entry,
    direction: entry.direction === 'debit' ? 'credit' : 'debit',
  }));
  assertBalanced(reversed);
  return reversed;
}

/**
 * Throws unless the entries form a valid journal transaction: at least two entries, every
 * amount positive in a known currency, and debits equal to credits per currency.
 */
export function assertBalanced(entries: readonly Entry[]): void {
  if (entries.length < 2) throw new Error(`a transaction needs at least 2 entries, got ${entries.length}`);
  const net = new Map<Currency, Decimal>();
  for (const entry of entries) {
    if (!isCurrency(entry.currency)) throw new Error(`unknown currency: ${entry.currency}`);
    const amount = money(entry.amount, entry.currency).amount;
    if (!amount.isPositive() || amount.isZero()) throw new Error(`entry amount must be positive: ${entry.amount}`);
    const signed = entry.direction === 'debit' ? amount : amount.negated();
    net.set(entry.currency, (net.get(entry.currency) ?? new Decimal(0)).plus(signed));
  }
  for (const [currency, difference] of net) {
    if (!difference.isZero()) {
      throw new Error(`unbalanced in ${currency}: debits - credits = ${toAmountString(money(difference, currency))}`);
    }
  }
}
