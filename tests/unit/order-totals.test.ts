// Order totals: an exact subtotal, a discount rounded half-even and never above the subtotal.
import { describe, expect, it } from 'vitest';
import { money, toAmountString, type Currency } from '../../src/domain/money.ts';
import { discountOf, subtotalOf, totalOf, type CouponTerms, type PricedLine } from '../../src/domain/order-totals.ts';

const line = (unitPrice: string, quantity: number, currency: Currency = 'USD'): PricedLine => ({
  productId: `sku-${unitPrice}`,
  quantity,
  unitPrice: money(unitPrice, currency),
});

describe('subtotalOf', () => {
  it.each<[string, PricedLine[], Currency, string]>([
    ['no lines', [], 'USD', '0.00'],
    ['0.1 + 0.2', [line('0.1', 1), line('0.2', 1)], 'USD', '0.30'],
    ['0.10 × 3', [line('0.10', 3)], 'USD', '0.30'],
    ['19.99 × 3 + 0.01', [line('19.99', 3), line('0.01', 1)], 'USD', '59.98'],
    ['yen', [line('1200', 2, 'JPY'), line('99', 1, 'JPY')], 'JPY', '2499'],
    ['sub-cent unit prices, rounded once at the end', [line('0.3333', 3)], 'USD', '1.00'],
    ['a half cent rounds to even', [line('0.0025', 2), line('0.0100', 1)], 'USD', '0.02'],
  ])('%s', (_, lines, currency, subtotal) => {
    expect(toAmountString(subtotalOf(lines, currency))).toBe(subtotal);
  });

  it('is exact: 0.1 + 0.2 equals 0.3, not 0.30000000000000004', () => {
    expect(subtotalOf([line('0.1', 1), line('0.2', 1)], 'USD').amount.eq('0.3')).toBe(true);
  });

  it('throws when a line is priced in another currency', () => {
    expect(() => subtotalOf([line('1.00', 1, 'EUR')], 'USD')).toThrow(/currency mismatch/);
  });
});

const percent = (percentOff: string): CouponTerms => ({ kind: 'percent', percentOff });
const fixed = (amount: string, currency: Currency = 'USD'): CouponTerms => ({
  kind: 'fixed',
  amountOff: money(amount, currency),
});

describe('discountOf', () => {
  it.each<[string, string, Currency, CouponTerms, string]>([
    ['10% of 100.00', '100.00', 'USD', percent('10'), '10.00'],
    ['10% of 99.95 (9.995 rounds up to even 10.00)', '99.95', 'USD', percent('10'), '10.00'],
    ['10% of 100.05 (10.005 rounds down to even 10.00)', '100.05', 'USD', percent('10'), '10.00'],
    ['15% of 0.30 (0.045 rounds down to even 0.04)', '0.30', 'USD', percent('15'), '0.04'],
    ['15% of 0.70 (0.105 rounds down to even 0.10)', '0.70', 'USD', percent('15'), '0.10'],
    ['33.33% of 100.00', '100.00', 'EUR', percent('33.33'), '33.33'],
    ['12.5% of 0.10 (0.0125 -> 0.01)', '0.10', 'USD', percent('12.5'), '0.01'],
    ['30% of 0.10 is exactly 0.03 (floats say 0.030000000000000002)', '0.10', 'USD', percent('30'), '0.03'],
    ['100% of 42.42', '42.42', 'USD', percent('100'), '42.42'],
    ['150% is capped at the subtotal', '42.42', 'USD', percent('150'), '42.42'],
    ['10% of 1005 yen (100.5 -> 100)', '1005', 'JPY', percent('10'), '100'],
    ['10% of 1015 yen (101.5 -> 102)', '1015', 'JPY', percent('10'), '102'],
    ['5.00 off 20.00', '20.00', 'USD', fixed('5'), '5.00'],
    ['5.00 off 3.00 is capped at 3.00', '3.00', 'USD', fixed('5'), '3.00'],
    ['1000 yen off 999 yen is capped', '999', 'JPY', fixed('1000', 'JPY'), '999'],
    ['anything off nothing is nothing', '0.00', 'USD', fixed('5'), '0.00'],
  ])('%s', (_, subtotal, currency, coupon, discount) => {
    const sub = money(subtotal, currency);
    const result = discountOf(sub, coupon);
    expect(toAmountString(result)).toBe(discount);
    expect(result.amount.lte(sub.amount)).toBe(true);
    expect(result.currency).toBe(currency);
  });

  it('throws when a fixed discount is in another currency than the order', () => {
    expect(() => discountOf(money('10.00', 'USD'), fixed('5', 'EUR'))).toThrow(/currency mismatch/);
  });

  it('never exceeds the subtotal, across percents and subtotals', () => {
    for (const subtotal of ['0.01', '0.99', '1.00', '99.95', '123456.78']) {
      for (const off of ['0.01', '1', '33.3333', '50', '99.99', '100', '250']) {
        const sub = money(subtotal, 'USD');
        expect(discountOf(sub, percent(off)).amount.lte(sub.amount), `${off}% of ${subtotal}`).toBe(true);
      }
    }
  });
});

describe('totalOf', () => {
  it.each<[string, string, Currency, string]>([
    ['100.00', '10.00', 'USD', '90.00'],
    ['0.30', '0.30', 'USD', '0.00'],
    ['0.3', '0.1', 'EUR', '0.20'],
    ['1015', '102', 'JPY', '913'],
  ])('%s - %s %s = %s', (subtotal, discount, currency, total) => {
    expect(totalOf(money(subtotal, currency), money(discount, currency))).toBe(total);
  });

  it('subtotal, discount and total agree end to end', () => {
    const subtotal = subtotalOf([line('33.33', 3)], 'USD');
    const discount = discountOf(subtotal, percent('10'));
    expect([toAmountString(subtotal), toAmountString(discount), totalOf(subtotal, discount)]).toEqual([
      '99.99',
      '10.00',
      '89.99',
    ]);
  });

  it('throws on a currency mismatch', () => {
    expect(() => totalOf(money('1', 'USD'), money('1', 'GBP'))).toThrow(/currency mismatch/);
  });
});
