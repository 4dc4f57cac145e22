// Every outcome of the order machine, reached through the real engine: API -> BullMQ -> workers
// -> PostgreSQL. After each test: the ledger validates, stock is conserved, the provider holds at
// most one net charge per order (checkInvariants).
import { randomUUID } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { checkInvariants, waitUntilFinal } from '../../chaos/invariants.ts';
import { createCoupon } from '../../src/coupons/coupons.create.ts';
import { stockOf } from '../../src/inventory/inventory.sql.ts';
import { providerNetByOrder } from '../../src/payments/simulated.provider.ts';
import { orderHistory } from '../../src/orders/order.queries.ts';
import { address, freshProduct, getJson, postJson, startTestEngine, type TestEngine } from '../support/engine.ts';

let engine: TestEngine;
const touched: string[] = [];

beforeAll(async () => {
  // Six attempts 100 ms apart (doubling) give up on a silent provider in about three seconds.
  engine = await startTestEngine({ QUEUE_ATTEMPTS: '6', QUEUE_BACKOFF_MS: '100' });
});
afterAll(async () => {
  await engine?.close();
});
afterEach(async () => {
  const report = await checkInvariants(engine.core.pool, touched.splice(0));
  expect(report.violations).toEqual([]);
});

async function place(body: Record<string, unknown>, waitSeconds = 15) {
  const res = await postJson(
    `${engine.url}/api/v1/orders`,
    { currency: 'USD', shipping_address: address, ...body },
    { Prefer: `wait=${waitSeconds}` },
  );
  if (typeof res.body.id === 'string') touched.push(res.body.id);
  return res;
}

async function finalOrder(id: string) {
  expect(await waitUntilFinal(engine.core.pool, [id], 20_000)).toEqual([]);
  return (await getJson(`${engine.url}/api/v1/orders/${id}`)).body;
}

async function waitForState(id: string, state: string) {
  for (let i = 0; i < 200; i++) {
    if ((await getJson(`${engine.url}/api/v1/orders/${id}`)).body.state === state) return;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  throw new Error(`order ${id} never reached ${state}`);
}

async function coupon(kind: 'percent' | 'fixed', extra: Record<string, unknown> = {}) {
  const code = `T${randomUUID().slice(0, 8).toUpperCase()}`;
  const input =
    kind === 'percent'
      ? { code, kind, percentOff: '10', redemptionsMax: 5, ...extra }
      : { code, kind, amountOff: '5.00', currency: 'USD', redemptionsMax: 5, ...extra };
  const created = await createCoupon(engine.core.pool, input as Parameters<typeof createCoupon>[1]);
  expect(created.ok).toBe(true);
  return code;
}

describe('an order reaches each outcome', () => {
  it('confirms without a coupon: stock sold, one charge, one posting', async () => {
    const product = await freshProduct(engine.core, 5, '19.99');
    const res = await place({ user_id: 'happy', items: [{ product_id: product, quantity: 2 }] });
    expect(res.status).toBe(201);
    expect(res.headers.get('location')).toBe(`/api/v1/orders/${res.body.id}`);
    expect(res.body).toMatchObject({
      status: 'confirmed',
      state: 'confirmed',
      subtotal: '39.98',
      discount: '0.00',
      total: '39.98',
    });
    expect(await stockOf(engine.core.pool, [product])).toEqual([
      { product_id: product, on_hand: 5, available: 3, held: 0, sold: 2 },
    ]);
    const [net] = await providerNetByOrder(engine.core.pool, [res.body.id]);
    expect(net).toMatchObject({ chargesSucceeded: 1, net: '39.9800' });
    const steps = await orderHistory(engine.core.pool, res.body.id);
    // Once paid, the posting and the stock commit run side by side; the second answer confirms.
    expect(steps.map((s) => s.to_state)).toEqual(['reserving', 'charging', 'settling', 'settling', 'confirmed']);
    expect(
      steps
        .slice(3)
        .map((s) => s.event_type)
        .sort(),
    ).toEqual(['inventory.committed', 'ledger.posted']);
  });

  it('confirms with a percent coupon and with a fixed coupon, discount in the total', async () => {
    const product = await freshProduct(engine.core, 5, '19.99');
    const percent = await place({
      user_id: 'couponer',
      items: [{ product_id: product, quantity: 1 }],
      coupon_code: await coupon('percent'),
    });
    expect(percent.body).toMatchObject({ status: 'confirmed', subtotal: '19.99', discount: '2.00', total: '17.99' });
    const fixed = await place({
      user_id: 'couponer',
      items: [{ product_id: product, quantity: 1 }],
      coupon_code: await coupon('fixed'),
    });
    expect(fixed.body).toMatchObject({ status: 'confirmed', discount: '5.00', total: '14.99' });
    const balance = await getJson(`${engine.url}/api/v1/accounts/discounts:coupons/balance`);
    expect(balance.status).toBe(200);
  });

  it('rejects out of stock and holds nothing', async () => {
    const product = await freshProduct(engine.core, 1);
    const res = await place({ user_id: 'greedy', items: [{ product_id: product, quantity: 2 }] });
    expect(res.body).toMatchObject({ status: 'rejected', failure_reason: 'out_of_stock' });
    expect((await stockOf(engine.core.pool, [product]))[0]).toMatchObject({ available: 1, held: 0, sold: 0 });
  });

  it.each([
    ['an unknown coupon', async () => 'NOSUCHCOUPON', 'coupon_invalid'],
    [
      'an expired coupon',
      async () => coupon('percent', { expiresAt: new Date('2020-01-01T00:00:00Z') }),
      'coupon_expired',
    ],
  ])('rejects %s and releases the stock', async (_name, makeCode, reason) => {
    const product = await freshProduct(engine.core, 3);
    const res = await place({
      user_id: 'coupon-fail',
      items: [{ product_id: product, quantity: 1 }],
      coupon_code: await makeCode(),
    });
    expect(res.body).toMatchObject({ status: 'rejected', failure_reason: reason });
    expect((await stockOf(engine.core.pool, [product]))[0]).toMatchObject({ available: 3, held: 0, sold: 0 });
  });

  it('rejects a used-up coupon: the second order gets coupon_already_used', async () => {
    const product = await freshProduct(engine.core, 3);
    const code = await coupon('percent', { redemptionsMax: 1 });
    const first = await place({ user_id: 'first', items: [{ product_id: product, quantity: 1 }], coupon_code: code });
    const second = await place({ user_id: 'second', items: [{ product_id: product, quantity: 1 }], coupon_code: code });
    expect(first.body.status).toBe('confirmed');
    expect(second.body).toMatchObject({ status: 'rejected', failure_reason: 'coupon_already_used' });
  });

  it('fails on a decline, restores the coupon and releases the stock', async () => {
    const product = await freshProduct(engine.core, 2);
    const code = await coupon('percent', { redemptionsMax: 1 });
    const res = await place({
      user_id: 'test_decline_1',
      items: [{ product_id: product, quantity: 1 }],
      coupon_code: code,
    });
    expect(res.body).toMatchObject({ status: 'failed', failure_reason: 'payment_declined' });
    const reuse = await place({
      user_id: 'after-decline',
      items: [{ product_id: product, quantity: 1 }],
      coupon_code: code,
    });
    expect(reuse.body.status).toBe('confirmed');
  });

  it('confirms after transient provider errors, charging once', async () => {
    const product = await freshProduct(engine.core, 2);
    const res = await place({ user_id: 'test_transient_2_user', items: [{ product_id: product, quantity: 1 }] });
    expect(res.body.status).toBe('confirmed');
    expect((await providerNetByOrder(engine.core.pool, [res.body.id]))[0]?.chargesSucceeded).toBe(1);
  });

  it('confirms after a lost provider response without charging twice', async () => {
    const product = await freshProduct(engine.core, 2);
    const res = await place({ user_id: 'test_lost_response_user', items: [{ product_id: product, quantity: 1 }] });
    expect(res.body.status).toBe('confirmed');
    expect((await providerNetByOrder(engine.core.pool, [res.body.id]))[0]?.chargesSucceeded).toBe(1);
  });

  it('fails with payment_timeout when the provider never answers', async () => {
    const product = await freshProduct(engine.core, 2);
    const res = await place({ user_id: 'test_timeout_user', items: [{ product_id: product, quantity: 1 }] }, 0);
    const order = await finalOrder(res.body.id);
    expect(order).toMatchObject({ status: 'failed', failure_reason: 'payment_timeout' });
  });

  it('cancels before payment: 202, then cancelled with the stock back', async () => {
    const product = await freshProduct(engine.core, 2);
    // The provider keeps failing, so the order waits in charging when the cancel arrives.
    const res = await place({ user_id: 'test_timeout_cancel', items: [{ product_id: product, quantity: 1 }] }, 0);
    await waitForState(res.body.id, 'charging');
    const cancel = await postJson(`${engine.url}/api/v1/orders/${res.body.id}/cancel`, {}, { Prefer: 'wait=15' });
    expect(cancel.status).toBe(202);
    expect(cancel.body).toMatchObject({ status: 'cancelled', failure_reason: 'cancelled_by_customer' });
    expect((await stockOf(engine.core.pool, [product]))[0]).toMatchObject({ available: 2, held: 0, sold: 0 });
  });

  it('cancels after confirmation: refund, reversing posting, coupon and stock back', async () => {
    const product = await freshProduct(engine.core, 2, '30.00');
    const code = await coupon('fixed', { redemptionsMax: 1 });
    const res = await place({ user_id: 'regret', items: [{ product_id: product, quantity: 1 }], coupon_code: code });
    expect(res.body.status).toBe('confirmed');
    const cancel = await postJson(`${engine.url}/api/v1/orders/${res.body.id}/cancel`, {}, { Prefer: 'wait=15' });
    expect(cancel.body).toMatchObject({ status: 'cancelled' });
    const [net] = await providerNetByOrder(engine.core.pool, [res.body.id]);
    expect(net).toMatchObject({ chargesSucceeded: 1, charged: '25.0000', refunded: '25.0000', net: '0.0000' });
    const steps = await orderHistory(engine.core.pool, res.body.id);
    expect(steps.slice(-5).map((s) => s.to_state)).toEqual([
      'compensating.reversingLedger',
      'compensating.refunding',
      'compensating.restoringCoupon',
      'compensating.releasingStock',
      'cancelled',
    ]);
    const again = await postJson(`${engine.url}/api/v1/orders/${res.body.id}/cancel`, {});
    expect(again.status).toBe(409);
    expect(again.body.error.code).toBe('order_not_cancellable');
    const balance = await getJson(`${engine.url}/api/v1/accounts/customer:regret/balance`);
    expect(balance.body.balances).toEqual([
      expect.objectContaining({ currency: 'USD', debits: '25.00', credits: '25.00', balance: '0.00' }),
    ]);
  });

  it('validates the whole ledger through the API', async () => {
    const res = await getJson(`${engine.url}/api/v1/ledger/validate`);
    expect(res.body.balanced).toBe(true);
    expect(res.body.transactions_checked).toBeGreaterThan(0);
    expect(res.body.problems).toEqual([]);
  });
});

describe('a reservation that runs out', () => {
  let slow: TestEngine;
  beforeAll(async () => {
    // Reservations last one second here, while the provider keeps failing for longer.
    slow = await startTestEngine({ RESERVATION_TTL_MS: '1000', QUEUE_ATTEMPTS: '20', QUEUE_BACKOFF_MS: '200' });
  });
  afterAll(async () => {
    await slow?.close();
  });

  it('expires the unpaid order, voids the late charge and releases the stock', async () => {
    const product = await freshProduct(slow.core, 2);
    const res = await postJson(`${slow.url}/api/v1/orders`, {
      currency: 'USD',
      shipping_address: address,
      user_id: 'test_timeout_expiry',
      items: [{ product_id: product, quantity: 1 }],
    });
    expect(res.status).toBe(202);
    expect(res.body.status).toBe('pending');
    touched.push(res.body.id);
    expect(await waitUntilFinal(slow.core.pool, [res.body.id], 20_000)).toEqual([]);
    const order = (await getJson(`${slow.url}/api/v1/orders/${res.body.id}`)).body;
    expect(order).toMatchObject({ status: 'expired', failure_reason: 'reservation_expired' });
    expect((await stockOf(slow.core.pool, [product]))[0]).toMatchObject({ available: 2, held: 0 });
  });
});
