// The coupons module on the real database: exact discounts, the redemption maximum under
// concurrency, expiry and currency rules, and restore as the undo of redeem in either order.
import { randomUUID } from 'node:crypto';
import type { Job } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCoupon, type NewCoupon } from '../../src/coupons/coupons.create.ts';
import { createCouponsHandler } from '../../src/coupons/coupons.worker.ts';
import type { CoreDeps } from '../../src/main/core-deps.ts';
import { PermanentError, type MessageHandler } from '../../src/messaging/module-worker.ts';
import { createTestDeps, messageFor } from '../support/harness.ts';

let deps: CoreDeps;
let handle: MessageHandler;
const job = {} as Job;

beforeAll(() => {
  deps = createTestDeps();
  handle = createCouponsHandler(deps);
});
afterAll(async () => {
  await deps.close();
});

const newCode = () => `T-${randomUUID().slice(0, 8).toUpperCase()}`;

type CouponTerms = { kind: 'percent'; percentOff: string } | { kind: 'fixed'; amountOff: string; currency: string };

async function seed(terms: CouponTerms, limits: { redemptionsMax?: number; expiresAt?: Date } = {}): Promise<string> {
  const code = newCode();
  const created = await createCoupon(deps.pool, {
    code,
    redemptionsMax: limits.redemptionsMax ?? 100,
    expiresAt: limits.expiresAt,
    ...terms,
  } as NewCoupon);
  expect(created.ok).toBe(true);
  return code;
}

const redeem = (orderId: string, code: string, subtotal = '19.99', currency = 'USD') =>
  handle(messageFor(orderId, 'coupon.redeem', { code, subtotal, currency }), job);
const restore = (orderId: string) => handle(messageFor(orderId, 'coupon.restore'), job);

async function answersOf(orderId: string) {
  const result = await deps.pool.query<{ type: string; payload: Record<string, unknown> }>(
    `SELECT type, payload FROM outbox WHERE key = $1 AND destination = 'queue:orders' ORDER BY id`,
    [orderId],
  );
  return result.rows;
}

async function redemptionOf(orderId: string) {
  const result = await deps.pool.query<{ coupon_code: string | null; status: string; discount: string | null }>(
    'SELECT coupon_code, status, discount FROM coupon_redemptions WHERE order_id = $1',
    [orderId],
  );
  return result.rows[0] ?? null;
}

async function countOf(code: string): Promise<number> {
  const result = await deps.pool.query<{ redemptions_count: number }>(
    'SELECT redemptions_count FROM coupons WHERE code = $1',
    [code],
  );
  return result.rows[0]?.redemptions_count ?? -1;
}

describe('coupon.redeem prices the discount exactly', () => {
  // Rounding is half-even (banker's) to the minor unit: 0.025 becomes 0.02, 0.035 becomes 0.04.
  it.each([
    {
      name: '15% of 19.99 USD (2.9985)',
      terms: { kind: 'percent', percentOff: '15' },
      subtotal: '19.99',
      currency: 'USD',
      discount: '3.00',
    },
    {
      name: '10% of 0.25 USD (0.025, half-even down)',
      terms: { kind: 'percent', percentOff: '10' },
      subtotal: '0.25',
      currency: 'USD',
      discount: '0.02',
    },
    {
      name: '10% of 0.35 USD (0.035, half-even up)',
      terms: { kind: 'percent', percentOff: '10' },
      subtotal: '0.35',
      currency: 'USD',
      discount: '0.04',
    },
    {
      name: '33.33% of 10 JPY (3.333)',
      terms: { kind: 'percent', percentOff: '33.33' },
      subtotal: '10',
      currency: 'JPY',
      discount: '3',
    },
    {
      name: '100% of 19.99 USD',
      terms: { kind: 'percent', percentOff: '100' },
      subtotal: '19.99',
      currency: 'USD',
      discount: '19.99',
    },
    {
      name: '5.00 USD off 19.99 USD',
      terms: { kind: 'fixed', amountOff: '5.00', currency: 'USD' },
      subtotal: '19.99',
      currency: 'USD',
      discount: '5.00',
    },
    {
      name: '50 USD off 19.99 USD (never above the subtotal)',
      terms: { kind: 'fixed', amountOff: '50', currency: 'USD' },
      subtotal: '19.99',
      currency: 'USD',
      discount: '19.99',
    },
    {
      name: '500 JPY off 1200 JPY',
      terms: { kind: 'fixed', amountOff: '500', currency: 'JPY' },
      subtotal: '1200',
      currency: 'JPY',
      discount: '500',
    },
  ] as Array<{ name: string; terms: CouponTerms; subtotal: string; currency: string; discount: string }>)(
    '$name is $discount',
    async ({ terms, subtotal, currency, discount }) => {
      const code = await seed(terms);
      const orderId = randomUUID();
      await redeem(orderId, code, subtotal, currency);
      expect(await answersOf(orderId)).toEqual([{ type: 'coupon.redeemed', payload: { discount } }]);
      const row = await redemptionOf(orderId);
      expect({ code: row?.coupon_code, status: row?.status, discount: Number(row?.discount) }).toEqual({
        code,
        status: 'redeemed',
        discount: Number(discount),
      });
      expect(await countOf(code)).toBe(1);
    },
  );
});

describe('coupon.redeem refuses', () => {
  it.each([
    { name: 'an unknown code', terms: null, reason: 'coupon_invalid' },
    {
      name: 'a fixed coupon in another currency',
      terms: { kind: 'fixed', amountOff: '5.00', currency: 'EUR' },
      reason: 'coupon_invalid',
    },
    {
      name: 'an expired coupon',
      terms: { kind: 'percent', percentOff: '10' },
      expiresAt: new Date(Date.now() - 60_000),
      reason: 'coupon_expired',
    },
  ] as Array<{ name: string; terms: CouponTerms | null; expiresAt?: Date; reason: string }>)(
    '$name: $reason',
    async ({ terms, expiresAt, reason }) => {
      const code = terms === null ? newCode() : await seed(terms, expiresAt === undefined ? {} : { expiresAt });
      const orderId = randomUUID();
      await redeem(orderId, code);
      expect(await answersOf(orderId)).toEqual([{ type: 'coupon.rejected', payload: { reason } }]);
      expect(await redemptionOf(orderId)).toBeNull();
      if (terms !== null) expect(await countOf(code)).toBe(0);
    },
  );

  it('more redemptions than the maximum, under 20 concurrent redeems', async () => {
    const code = await seed({ kind: 'percent', percentOff: '10' }, { redemptionsMax: 3 });
    const orderIds = Array.from({ length: 20 }, () => randomUUID());
    await Promise.all(orderIds.map((orderId) => redeem(orderId, code)));

    const answers = (await Promise.all(orderIds.map(answersOf))).flat();
    expect(answers.filter((a) => a.type === 'coupon.redeemed')).toHaveLength(3);
    expect(
      answers.filter((a) => a.type === 'coupon.rejected' && a.payload.reason === 'coupon_already_used'),
    ).toHaveLength(17);
    expect(await countOf(code)).toBe(3);
    const rows = await deps.pool.query('SELECT 1 FROM coupon_redemptions WHERE coupon_code = $1', [code]);
    expect(rows.rowCount).toBe(3);
  });

  it('an order currency the engine does not know, permanently and without writing', async () => {
    const code = await seed({ kind: 'percent', percentOff: '10' });
    const orderId = randomUUID();
    await expect(redeem(orderId, code, '10.00', 'XYZ')).rejects.toBeInstanceOf(PermanentError);
    expect(await answersOf(orderId)).toEqual([]);
    expect(await countOf(code)).toBe(0);
  });
});

describe('redeem and restore, once each, in either order', () => {
  it('one redemption, however often the same redeem arrives', async () => {
    const code = await seed({ kind: 'fixed', amountOff: '2.50', currency: 'USD' });
    const orderId = randomUUID();
    await redeem(orderId, code);
    await redeem(orderId, code); // the same message: the inbox drops it
    await handle(
      {
        ...messageFor(orderId, 'coupon.redeem', { code, subtotal: '19.99', currency: 'USD' }),
        messageId: `${orderId}.resent`,
      },
      job,
    );
    expect(await countOf(code)).toBe(1);
    expect(await answersOf(orderId)).toEqual([{ type: 'coupon.redeemed', payload: { discount: '2.50' } }]);
  });

  it('restore frees the redemption for another order, once', async () => {
    const code = await seed({ kind: 'percent', percentOff: '20' }, { redemptionsMax: 1 });
    const [first, second, third] = [randomUUID(), randomUUID(), randomUUID()];
    await redeem(first, code);
    await redeem(second, code);
    expect((await answersOf(second))[0]?.payload).toEqual({ reason: 'coupon_already_used' });

    await restore(first);
    await handle({ ...messageFor(first, 'coupon.restore'), messageId: `${first}.resent` }, job);
    expect(await countOf(code)).toBe(0);
    expect(await redemptionOf(first)).toMatchObject({ coupon_code: code, status: 'restored' });
    expect((await answersOf(first)).map((a) => a.type)).toEqual(['coupon.redeemed', 'coupon.restored']);

    await redeem(third, code);
    expect(await answersOf(third)).toEqual([{ type: 'coupon.redeemed', payload: { discount: '4.00' } }]);
    expect(await countOf(code)).toBe(1);
  });

  it('restore before redeem leaves a tombstone, and the late redeem takes nothing', async () => {
    const code = await seed({ kind: 'percent', percentOff: '10' });
    const orderId = randomUUID();
    await restore(orderId);
    expect(await redemptionOf(orderId)).toEqual({ coupon_code: null, status: 'restored', discount: null });
    await redeem(orderId, code);
    expect(await answersOf(orderId)).toEqual([
      { type: 'coupon.restored', payload: {} },
      { type: 'coupon.rejected', payload: { reason: 'coupon_restored' } },
    ]);
    expect(await countOf(code)).toBe(0);
  });

  it('redeem racing restore for 30 orders: no redemption is left taken', async () => {
    const code = await seed({ kind: 'percent', percentOff: '10' });
    const orderIds = Array.from({ length: 30 }, () => randomUUID());
    await Promise.all(orderIds.flatMap((orderId) => [redeem(orderId, code), restore(orderId)]));
    for (const orderId of orderIds) {
      const row = await redemptionOf(orderId);
      const answered = (await answersOf(orderId)).map((a) => `${a.type}:${String(a.payload.reason ?? '')}`).sort();
      if (row?.coupon_code === null) expect(answered).toEqual(['coupon.rejected:coupon_restored', 'coupon.restored:']);
      else expect(answered).toEqual(['coupon.redeemed:', 'coupon.restored:']);
      expect(row?.status).toBe('restored');
    }
    expect(await countOf(code)).toBe(0);
  });

  it('the database refuses to turn a restored row back into a redemption', async () => {
    const orderId = randomUUID();
    await restore(orderId);
    await expect(
      deps.pool.query(`UPDATE coupon_redemptions SET status = 'redeemed' WHERE order_id = $1`, [orderId]),
    ).rejects.toMatchObject({ code: '23514' });
    await expect(
      deps.pool.query(`INSERT INTO coupon_redemptions (order_id, status) VALUES ($1, 'redeemed')`, [randomUUID()]),
    ).rejects.toMatchObject({ code: '23514' });
  });
});

describe('createCoupon', () => {
  it.each([
    {
      name: 'a lowercase code',
      input: { code: 'save10', kind: 'percent', percentOff: '10', redemptionsMax: 1 },
      field: 'code',
    },
    {
      name: 'zero redemptions',
      input: { code: newCode(), kind: 'percent', percentOff: '10', redemptionsMax: 0 },
      field: 'redemptionsMax',
    },
    {
      name: 'a fractional maximum',
      input: { code: newCode(), kind: 'percent', percentOff: '10', redemptionsMax: 1.5 },
      field: 'redemptionsMax',
    },
    {
      name: '0%',
      input: { code: newCode(), kind: 'percent', percentOff: '0', redemptionsMax: 1 },
      field: 'percentOff',
    },
    {
      name: '101%',
      input: { code: newCode(), kind: 'percent', percentOff: '101', redemptionsMax: 1 },
      field: 'percentOff',
    },
    {
      name: 'a percentage with 3 decimals',
      input: { code: newCode(), kind: 'percent', percentOff: '1.234', redemptionsMax: 1 },
      field: 'percentOff',
    },
    {
      name: 'an unknown currency',
      input: { code: newCode(), kind: 'fixed', amountOff: '5', currency: 'XYZ', redemptionsMax: 1 },
      field: 'currency',
    },
    {
      name: 'a fraction of a cent',
      input: { code: newCode(), kind: 'fixed', amountOff: '5.001', currency: 'USD', redemptionsMax: 1 },
      field: 'amountOff',
    },
    {
      name: 'a fractional yen',
      input: { code: newCode(), kind: 'fixed', amountOff: '5.5', currency: 'JPY', redemptionsMax: 1 },
      field: 'amountOff',
    },
    {
      name: 'a negative amount',
      input: { code: newCode(), kind: 'fixed', amountOff: '-5', currency: 'USD', redemptionsMax: 1 },
      field: 'amountOff',
    },
    {
      name: 'an invalid date',
      input: { code: newCode(), kind: 'percent', percentOff: '5', redemptionsMax: 1, expiresAt: new Date('nope') },
      field: 'expiresAt',
    },
  ] as Array<{ name: string; input: NewCoupon; field: string }>)('refuses $name', async ({ input, field }) => {
    const created = await createCoupon(deps.pool, input);
    expect(created).toMatchObject({ ok: false, error: { code: 'validation_failed', field } });
    const stored = await deps.pool.query('SELECT 1 FROM coupons WHERE code = $1', [input.code]);
    expect(stored.rowCount).toBe(0);
  });

  it('creates a coupon once, and refuses its code a second time', async () => {
    const code = newCode();
    const input: NewCoupon = { code, kind: 'fixed', amountOff: '7.5', currency: 'EUR', redemptionsMax: 2 };
    expect(await createCoupon(deps.pool, input)).toMatchObject({
      ok: true,
      value: {
        code,
        kind: 'fixed',
        amount_off: '7.50',
        currency: 'EUR',
        percent_off: null,
        redemptions_max: 2,
        redemptions_count: 0,
        expires_at: null,
      },
    });
    expect(await createCoupon(deps.pool, input)).toMatchObject({
      ok: false,
      error: { code: 'coupon_exists', field: 'code' },
    });
  });
});
