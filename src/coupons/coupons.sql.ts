// The coupons module's SQL: coupons and one redemption row per order. The conditional increment
// is the guard against redeeming a coupon more often than its maximum; the CHECK is the backstop.
import type { Client, Queryable } from '../platform/db.ts';

/** A pool or a client inside an open transaction. */
export type { Queryable };

export interface CouponRow {
  code: string;
  kind: 'percent' | 'fixed';
  percent_off: string | null;
  amount_off: string | null;
  currency: string | null;
  expires_at: Date | null;
  redemptions_max: number;
  redemptions_count: number;
  created_at: Date;
  /** By the database clock, at the start of the reading transaction. */
  expired: boolean;
}

export interface RedemptionRow {
  order_id: string;
  coupon_code: string | null;
  status: 'redeemed' | 'restored';
  discount: string | null;
  currency: string | null;
}

const couponColumns = `code, kind, percent_off, amount_off, currency, expires_at, redemptions_max,
  redemptions_count, created_at, (expires_at IS NOT NULL AND expires_at <= now()) AS expired`;

// Namespace of the coupons module's advisory locks (two-int form, apart from other modules').
const couponsLockNamespace = 727_102;

/**
 * Serializes the redeem and restore of one order until the transaction ends, so a restore racing
 * its redeem sees it (or leaves the tombstone first). The order_id primary key stays the guard.
 */
export async function lockOrderCoupon(client: Client, orderId: string): Promise<void> {
  await client.query('SELECT pg_advisory_xact_lock($1, hashtext($2))', [couponsLockNamespace, orderId]);
}

export async function findCoupon(db: Queryable, code: string): Promise<CouponRow | null> {
  const result = await db.query<CouponRow>(`SELECT ${couponColumns} FROM coupons WHERE code = $1`, [code]);
  return result.rows[0] ?? null;
}

export async function findRedemption(db: Queryable, orderId: string): Promise<RedemptionRow | null> {
  const result = await db.query<RedemptionRow>(
    `SELECT order_id, coupon_code, status, discount, currency FROM coupon_redemptions WHERE order_id = $1`,
    [orderId],
  );
  return result.rows[0] ?? null;
}

/**
 * Takes one redemption of the coupon if one is left and it has not expired (database clock).
 * Concurrent callers queue on the row lock and each re-checks the condition, so at most
 * redemptions_max callers ever get true.
 */
export async function takeRedemption(client: Client, code: string): Promise<boolean> {
  const result = await client.query(
    `UPDATE coupons SET redemptions_count = redemptions_count + 1
      WHERE code = $1 AND redemptions_count < redemptions_max
        AND (expires_at IS NULL OR expires_at > now())
      RETURNING redemptions_count`,
    [code],
  );
  return result.rowCount === 1;
}

/** Gives one redemption back. Returns false when the count was already zero (a broken invariant). */
export async function giveRedemptionBack(client: Client, code: string): Promise<boolean> {
  const result = await client.query(
    `UPDATE coupons SET redemptions_count = redemptions_count - 1
      WHERE code = $1 AND redemptions_count > 0 RETURNING redemptions_count`,
    [code],
  );
  return result.rowCount === 1;
}

/** A second row for the order fails on the primary key: the caller holds the order's lock. */
export async function insertRedemption(
  client: Client,
  redemption: { orderId: string; code: string; discount: string; currency: string },
): Promise<void> {
  await client.query(
    `INSERT INTO coupon_redemptions (order_id, coupon_code, status, discount, currency)
     VALUES ($1, $2, 'redeemed', $3, $4)`,
    [redemption.orderId, redemption.code, redemption.discount, redemption.currency],
  );
}

/** The restore that came first: it names no coupon, and makes the order's late redeem a no-op. */
export async function insertRestoreTombstone(client: Client, orderId: string): Promise<void> {
  await client.query(`INSERT INTO coupon_redemptions (order_id, status) VALUES ($1, 'restored')`, [orderId]);
}

/** Returns false when the row was not 'redeemed' (already restored): nothing changed then. */
export async function markRestored(client: Client, orderId: string): Promise<boolean> {
  const result = await client.query(
    `UPDATE coupon_redemptions SET status = 'restored', updated_at = now()
      WHERE order_id = $1 AND status = 'redeemed'`,
    [orderId],
  );
  return result.rowCount === 1;
}

export interface NewCouponRow {
  code: string;
  kind: 'percent' | 'fixed';
  percentOff: string | null;
  amountOff: string | null;
  currency: string | null;
  expiresAt: Date | null;
  redemptionsMax: number;
}

/** Returns null when the code exists already. */
export async function insertCoupon(db: Queryable, coupon: NewCouponRow): Promise<CouponRow | null> {
  const result = await db.query<CouponRow>(
    `INSERT INTO coupons (code, kind, percent_off, amount_off, currency, expires_at, redemptions_max)
     VALUES ($1, $2, $3, $4, $5, $6, $7)
     ON CONFLICT (code) DO NOTHING
     RETURNING ${couponColumns}`,
    [
      coupon.code,
      coupon.kind,
      coupon.percentOff,
      coupon.amountOff,
      coupon.currency,
      coupon.expiresAt,
      coupon.redemptionsMax,
    ],
  );
  return result.rows[0] ?? null;
}
