// Order totals and coupon discounts, pure. Prices come from the catalogue, never from the caller.
import {
  add,
  min,
  money,
  multiply,
  roundToMinor,
  subtract,
  toAmountString,
  type Currency,
  type Money,
} from './money.ts';

export interface PricedLine {
  productId: string;
  quantity: number;
  unitPrice: Money;
}

export function subtotalOf(lines: PricedLine[], currency: Currency): Money {
  return roundToMinor(
    lines.reduce((sum, line) => add(sum, multiply(line.unitPrice, line.quantity)), money(0, currency)),
  );
}

export type CouponTerms = { kind: 'percent'; percentOff: string } | { kind: 'fixed'; amountOff: Money };

/** The discount never exceeds the subtotal, so a total is never negative. */
export function discountOf(subtotal: Money, coupon: CouponTerms): Money {
  const raw =
    coupon.kind === 'percent'
      ? multiply(subtotal, money(coupon.percentOff, subtotal.currency).amount.div(100))
      : coupon.amountOff;
  return roundToMinor(min(raw, subtotal));
}

export function totalOf(subtotal: Money, discount: Money): string {
  return toAmountString(subtract(subtotal, discount));
}
