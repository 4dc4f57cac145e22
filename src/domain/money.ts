// Money: decimal.js in code, NUMERIC in PostgreSQL, a string in JSON, always with a currency.
// Rounding happens only here, to the currency's minor unit, half-even (banker's rounding).
import { Decimal } from 'decimal.js';

export { Decimal };

/** The currencies the engine accepts, with their minor-unit exponent (ISO 4217). */
export const currencies = { USD: 2, EUR: 2, GBP: 2, JPY: 0, CHF: 2 } as const;
export type Currency = keyof typeof currencies;

export function isCurrency(code: string): code is Currency {
  return Object.hasOwn(currencies, code);
}

export interface Money {
  readonly amount: Decimal;
  readonly currency: Currency;
}

const Exact = Decimal.clone({ precision: 40, rounding: Decimal.ROUND_HALF_EVEN });

export function money(amount: Decimal.Value, currency: Currency): Money {
  const value = new Exact(amount);
  if (!value.isFinite()) throw new Error(`money amount must be finite: ${String(amount)}`);
  return { amount: value, currency };
}

/** Rounds to the currency's minor unit. The one named place where rounding happens. */
export function roundToMinor(value: Money): Money {
  return {
    amount: value.amount.toDecimalPlaces(currencies[value.currency], Decimal.ROUND_HALF_EVEN),
    currency: value.currency,
  };
}

function sameCurrency(a: Money, b: Money): void {
  if (a.currency !== b.currency) throw new Error(`currency mismatch: ${a.currency} vs ${b.currency}`);
}

export function add(a: Money, b: Money): Money {
  sameCurrency(a, b);
  return { amount: a.amount.plus(b.amount), currency: a.currency };
}

export function subtract(a: Money, b: Money): Money {
  sameCurrency(a, b);
  return { amount: a.amount.minus(b.amount), currency: a.currency };
}

export function multiply(a: Money, factor: Decimal.Value): Money {
  return { amount: a.amount.times(factor), currency: a.currency };
}

export function min(a: Money, b: Money): Money {
  sameCurrency(a, b);
  return a.amount.lte(b.amount) ? a : b;
}

export function isZero(a: Money): boolean {
  return a.amount.isZero();
}

/** The JSON form: a plain decimal string with exactly the currency's minor digits. */
export function toAmountString(value: Money): string {
  return value.amount.toFixed(currencies[value.currency]);
}

export function parseMoney(amount: string, currency: string): Money {
  if (!/^-?\d{1,16}(\.\d{1,4})?$/.test(amount)) throw new Error(`not a decimal amount: ${amount}`);
  if (!isCurrency(currency)) throw new Error(`unknown currency: ${currency}`);
  return money(amount, currency);
}

/** A NUMERIC read from PostgreSQL ("19.9900"), shown with the currency's minor digits ("19.99"). */
export function formatAmount(amount: string, currency: string): string {
  return isCurrency(currency) ? toAmountString(roundToMinor(money(amount, currency))) : amount;
}
