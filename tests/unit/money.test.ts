// Money: exact decimals with a currency, rounded half-even to the minor unit only where asked.
import { describe, expect, it } from 'vitest';
import {
  add,
  currencies,
  isCurrency,
  isZero,
  min,
  money,
  multiply,
  parseMoney,
  roundToMinor,
  subtract,
  toAmountString,
  type Currency,
} from '../../src/domain/money.ts';

describe('roundToMinor: half-even to the currency minor unit', () => {
  it.each<[string, Currency, string]>([
    ['0.125', 'USD', '0.12'],
    ['0.135', 'USD', '0.14'],
    ['0.145', 'EUR', '0.14'],
    ['1.005', 'GBP', '1.00'],
    ['1.0051', 'USD', '1.01'],
    ['2.675', 'CHF', '2.68'],
    ['-0.125', 'USD', '-0.12'],
    ['-0.135', 'USD', '-0.14'],
    ['0.5', 'JPY', '0'],
    ['1.5', 'JPY', '2'],
    ['2.5', 'JPY', '2'],
    ['1234.4999', 'JPY', '1234'],
    ['99.995', 'USD', '100.00'],
    ['7', 'USD', '7.00'],
  ])('%s %s -> %s', (amount, currency, rounded) => {
    const result = roundToMinor(money(amount, currency));
    expect(toAmountString(result)).toBe(rounded);
    expect(result.currency).toBe(currency);
    expect(result.amount.decimalPlaces()).toBeLessThanOrEqual(currencies[currency]);
  });

  it('keeps the unrounded amount exact until rounding is asked for', () => {
    expect(money('0.125', 'USD').amount.toFixed()).toBe('0.125');
  });
});

describe('arithmetic is exact and never mixes currencies', () => {
  it.each<[string, string, string]>([
    ['0.1', '0.2', '0.3'],
    ['0.7', '0.1', '0.8'],
    ['1.0001', '2.0002', '3.0003'],
    ['9999999999999999.9999', '0.0001', '10000000000000000'],
  ])('%s + %s = %s exactly', (a, b, sum) => {
    const result = add(money(a, 'USD'), money(b, 'USD'));
    expect(result.amount.toFixed()).toBe(sum);
    expect(subtract(result, money(b, 'USD')).amount.eq(a)).toBe(true);
  });

  it('multiplies exactly: 0.1 × 3 is 0.3, and 19.99 × 3 is 59.97', () => {
    expect(multiply(money('0.1', 'EUR'), 3).amount.toFixed()).toBe('0.3');
    expect(toAmountString(multiply(money('19.99', 'EUR'), 3))).toBe('59.97');
  });

  it.each<[string, (a: ReturnType<typeof money>, b: ReturnType<typeof money>) => unknown]>([
    ['add', add],
    ['subtract', subtract],
    ['min', min],
  ])('%s throws on a currency mismatch', (_, operation) => {
    expect(() => operation(money('1', 'USD'), money('1', 'EUR'))).toThrow(/currency mismatch: USD vs EUR/);
  });

  it('min picks the smaller amount, and isZero sees zero in any form', () => {
    expect(min(money('2.50', 'USD'), money('2.5001', 'USD')).amount.toFixed()).toBe('2.5');
    expect(isZero(money('0.0000', 'USD'))).toBe(true);
    expect(isZero(money('-0', 'USD'))).toBe(true);
    expect(isZero(money('0.0001', 'USD'))).toBe(false);
  });

  it.each(['NaN', 'Infinity', '-Infinity'])('refuses a non-finite amount: %s', (amount) => {
    expect(() => money(amount, 'USD')).toThrow();
  });
});

describe('toAmountString: exactly the currency minor digits', () => {
  it.each<[string, Currency, string]>([
    ['5', 'USD', '5.00'],
    ['5', 'JPY', '5'],
    ['0', 'EUR', '0.00'],
    ['12.3', 'GBP', '12.30'],
    ['-4.1', 'CHF', '-4.10'],
  ])('%s %s -> %s', (amount, currency, text) => {
    expect(toAmountString(money(amount, currency))).toBe(text);
  });
});

describe('parseMoney: a plain decimal string and a known currency, nothing else', () => {
  it.each<[string, string, string]>([
    ['0', 'USD', '0'],
    ['10.5', 'USD', '10.5'],
    ['-3.25', 'EUR', '-3.25'],
    ['0.1234', 'GBP', '0.1234'],
    ['1000', 'JPY', '1000'],
    ['1234567890123456.1234', 'USD', '1234567890123456.1234'],
  ])('accepts %s %s', (amount, currency, exact) => {
    const parsed = parseMoney(amount, currency);
    expect(parsed.amount.toFixed()).toBe(exact);
    expect(parsed.currency).toBe(currency);
  });

  it.each([
    '1e3',
    '1E3',
    '0.12345',
    'abc',
    '',
    ' 1',
    '1 ',
    '1.',
    '.5',
    '+1',
    '1,00',
    '1.2.3',
    '0x10',
    'NaN',
    'Infinity',
    '12345678901234567',
    '٣',
  ])('rejects the amount %j', (amount) => {
    expect(() => parseMoney(amount, 'USD')).toThrow(/not a decimal amount/);
  });

  it.each(['XXX', 'usd', '', 'US'])('rejects the currency %j', (currency) => {
    expect(() => parseMoney('1.00', currency)).toThrow(/unknown currency/);
  });

  it('knows exactly the configured currencies', () => {
    expect(Object.keys(currencies).filter(isCurrency).sort()).toEqual(['CHF', 'EUR', 'GBP', 'JPY', 'USD']);
    expect(isCurrency('toString')).toBe(false);
    expect(currencies.JPY).toBe(0);
  });
});
