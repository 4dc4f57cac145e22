// Creating coupons, for seeding, tests and the API: the input is checked here, in TypeScript,
// before the table's CHECK constraints see it, so a bad coupon is a value and not a SQL error.
import { err, ok, type Result } from '../domain/errors.ts';
import { Decimal, formatAmount, isCurrency, parseMoney, roundToMinor } from '../domain/money.ts';
import { insertCoupon, type CouponRow, type NewCouponRow, type Queryable } from './coupons.sql.ts';

interface CouponLimits {
  code: string;
  redemptionsMax: number;
  /** Null or absent: never expires. A past date is accepted (an expired coupon, for tests). */
  expiresAt?: Date | null;
}

export type NewCoupon =
  | (CouponLimits & { kind: 'percent'; percentOff: string })
  | (CouponLimits & { kind: 'fixed'; amountOff: string; currency: string });

/** The public JSON shape of a coupon. Amounts are strings. */
export interface CouponView {
  code: string;
  kind: 'percent' | 'fixed';
  percent_off: string | null;
  amount_off: string | null;
  currency: string | null;
  expires_at: string | null;
  redemptions_max: number;
  redemptions_count: number;
  created_at: string;
}

const codePattern = /^[A-Z0-9_-]{1,40}$/;
const percentPattern = /^\d{1,3}(\.\d{1,2})?$/;
const redemptionsMaxLimit = 2_147_483_647; // PostgreSQL integer

/** Creates a coupon. Invalid input is a validation_failed value; a code taken already is coupon_exists. */
export async function createCoupon(db: Queryable, input: NewCoupon): Promise<Result<CouponView>> {
  const checked = checkCoupon(input);
  if (!checked.ok) return checked;
  const row = await insertCoupon(db, checked.value);
  if (row === null) return err('coupon_exists', `coupon ${input.code} exists already`, 'code');
  return ok(couponView(row));
}

export function checkCoupon(input: NewCoupon): Result<NewCouponRow> {
  if (!codePattern.test(input.code)) return err('validation_failed', 'must be 1-40 characters of A-Z 0-9 _ -', 'code');
  if (
    !Number.isInteger(input.redemptionsMax) ||
    input.redemptionsMax < 1 ||
    input.redemptionsMax > redemptionsMaxLimit
  ) {
    return err('validation_failed', 'must be a positive integer', 'redemptionsMax');
  }
  const expiresAt = input.expiresAt ?? null;
  if (expiresAt !== null && Number.isNaN(expiresAt.getTime()))
    return err('validation_failed', 'must be a valid date', 'expiresAt');
  const limits = { code: input.code, redemptionsMax: input.redemptionsMax, expiresAt };
  if (input.kind === 'percent') {
    if (!isPercentage(input.percentOff)) {
      return err(
        'validation_failed',
        'must be a percentage above 0 and at most 100, with at most 2 decimals',
        'percentOff',
      );
    }
    return ok({ ...limits, kind: 'percent', percentOff: input.percentOff, amountOff: null, currency: null });
  }
  if (!isCurrency(input.currency)) return err('validation_failed', 'must be a currency the engine accepts', 'currency');
  if (!isMinorAmount(input.amountOff, input.currency)) {
    return err(
      'validation_failed',
      `must be a positive amount with at most the minor digits of ${input.currency}`,
      'amountOff',
    );
  }
  return ok({ ...limits, kind: 'fixed', percentOff: null, amountOff: input.amountOff, currency: input.currency });
}

function isPercentage(percent: string): boolean {
  return percentPattern.test(percent) && new Decimal(percent).gt(0) && new Decimal(percent).lte(100);
}

function isMinorAmount(amount: string, currency: string): boolean {
  try {
    const value = parseMoney(amount, currency);
    return value.amount.gt(0) && roundToMinor(value).amount.eq(value.amount);
  } catch {
    return false;
  }
}

export function couponView(row: CouponRow): CouponView {
  return {
    code: row.code,
    kind: row.kind,
    percent_off: row.percent_off,
    amount_off: row.amount_off === null || row.currency === null ? null : formatAmount(row.amount_off, row.currency),
    currency: row.currency,
    expires_at: row.expires_at?.toISOString() ?? null,
    redemptions_max: row.redemptions_max,
    redemptions_count: row.redemptions_count,
    created_at: row.created_at.toISOString(),
  };
}
