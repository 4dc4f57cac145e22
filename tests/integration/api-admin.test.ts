// Admin endpoints end to end: products and coupons created through the API are what orders use;
// stock is set and added through the inventory module's statements (on_hand stays available +
// held + sold); a stuck order is force-cancelled through its machine and everything is undone.
// Plus the read routes' pages: orders, account entries with counter-entries.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkInvariants, waitUntilFinal } from '../../chaos/invariants.ts';
import { address, getJson, postJson, startTestEngine, tokenFor, type TestEngine } from '../support/engine.ts';

let engine: TestEngine;
const suffix = randomUUID().slice(0, 8);
const productId = `api-${suffix}`;
const couponCode = `API-${suffix.toUpperCase()}`;

beforeAll(async () => {
  engine = await startTestEngine();
});
afterAll(async () => {
  await engine?.close();
});

async function send(method: string, path: string, body?: unknown, user?: string) {
  const token = await tokenFor(user ?? 'ops-admin', user === undefined ? 'admin' : 'customer');
  const res = await fetch(`${engine.url}/api/v1${path}`, {
    method,
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: res.status, body: (await res.json()) as Record<string, any> };
}

const stockOf = async (id: string) => (await getJson(`${engine.url}/api/v1/products/${id}`)).body.stock;

describe('products and stock', () => {
  it('creates a product; a second create of the id is 409; bad prices are 400 naming price', async () => {
    const created = await send('POST', '/products', {
      id: productId,
      name: 'API kettle',
      price: '40.00',
      currency: 'USD',
      stock: 5,
    });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ id: productId, price: '40.00', stock: { on_hand: 5, available: 5 } });
    const again = await send('POST', '/products', { id: productId, name: 'x', price: '1.00', currency: 'USD' });
    expect(again.status).toBe(409);
    expect(again.body.error.code).toBe('product_exists');
    for (const [price, currency] of [
      ['0', 'USD'],
      ['1.005', 'USD'],
      ['1.5', 'JPY'],
    ]) {
      const bad = await send('POST', '/products', { id: `bad-${suffix}`, name: 'x', price, currency });
      expect(bad.status, `${price} ${currency}`).toBe(400);
      expect(bad.body.error.field).toBe('price');
    }
    expect((await getJson(`${engine.url}/api/v1/products/bad-${suffix}`)).status).toBe(404);
  });

  it('reprices and renames', async () => {
    const updated = await send('PATCH', `/products/${productId}`, { price: '50.00', name: 'API kettle II' });
    expect(updated.body).toMatchObject({ price: '50.00', name: 'API kettle II' });
    expect((await send('PATCH', `/products/no-such-${suffix}`, { name: 'x' })).status).toBe(404);
  });

  it('sets and adds stock, conserving on_hand = available + held + sold, refusing to go below held/sold', async () => {
    expect((await send('PUT', `/products/${productId}/stock`, { on_hand: 20 })).body.stock).toEqual({
      on_hand: 20,
      available: 20,
      held: 0,
      sold: 0,
    });
    expect((await send('POST', `/products/${productId}/stock`, { quantity: 5 })).body.stock).toMatchObject({
      on_hand: 25,
      available: 25,
    });
    const tooMuch = await send('POST', `/products/${productId}/stock`, { quantity: -26 });
    expect(tooMuch.status).toBe(409);
    expect(tooMuch.body.error.code).toBe('stock_conflict');
    expect(await stockOf(productId)).toMatchObject({ on_hand: 25, available: 25 });
  });
});

describe('coupons and orders with admin-made data', () => {
  it('creates a coupon, reads it, and an order uses product and coupon to confirmed', async () => {
    const created = await send('POST', '/coupons', {
      code: couponCode,
      kind: 'fixed',
      amount_off: '5.00',
      currency: 'USD',
      redemptions_max: 3,
    });
    expect(created.status).toBe(201);
    expect(
      (await send('POST', '/coupons', { code: couponCode, kind: 'percent', percent_off: '5', redemptions_max: 1 })).body
        .error.code,
    ).toBe('coupon_exists');
    const bad = await send('POST', '/coupons', {
      code: `B${suffix.toUpperCase()}`,
      kind: 'percent',
      percent_off: '150',
      redemptions_max: 1,
    });
    expect(bad.body.error).toMatchObject({ code: 'validation_failed', field: 'percent_off' });
    const check = await send('GET', `/coupons/${couponCode}`, undefined, 'shopper');
    expect(check.body).toMatchObject({ code: couponCode, amount_off: '5.00', valid: true, invalid_reason: null });
    expect((await send('GET', `/coupons/NOPE${suffix.toUpperCase()}`, undefined, 'shopper')).status).toBe(404);

    const user = `buyer-${suffix}`;
    const placed = await send(
      'POST',
      '/orders',
      {
        user_id: user,
        currency: 'USD',
        coupon_code: couponCode,
        items: [{ product_id: productId, quantity: 2 }],
        shipping_address: address,
      },
      user,
    );
    expect(placed.status).toBe(202);
    expect(await waitUntilFinal(engine.core.pool, [placed.body.id], 20_000)).toEqual([]);
    const done = await send('GET', `/orders/${placed.body.id}`, undefined, user);
    expect(done.body).toMatchObject({ status: 'confirmed', subtotal: '100.00', discount: '5.00', total: '95.00' });
    expect(await stockOf(productId)).toMatchObject({ on_hand: 25, available: 23, sold: 2 });
    const belowSold = await send('PUT', `/products/${productId}/stock`, { on_hand: 1 });
    expect(belowSold.status).toBe(409);

    const entries = await send('GET', `/accounts/customer:${user}/transactions`, undefined, user);
    expect(entries.status).toBe(200);
    expect(entries.body.entries[0]).toMatchObject({
      order_id: placed.body.id,
      kind: 'order.payment',
      direction: 'debit',
      amount: '95.00',
      currency: 'USD',
    });
    expect(entries.body.entries[0].counter_entries).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ account_id: 'merchant:revenue', direction: 'credit', amount: '100.00' }),
      ]),
    );
    expect((await checkInvariants(engine.core.pool, [placed.body.id])).violations).toEqual([]);
  });
});

describe('force-cancel', () => {
  it('ends a stuck order (payment never answers) cancelled, compensated, invariants holding', async () => {
    const user = `test_timeout_${suffix}`;
    const placed = await send('POST', '/orders', {
      user_id: user,
      currency: 'USD',
      items: [{ product_id: productId, quantity: 1 }],
      shipping_address: address,
    });
    expect(placed.status).toBe(202);
    const before = await stockOf(productId);
    for (let i = 0; i < 100; i += 1) {
      if ((await send('GET', `/orders/${placed.body.id}`)).body.state === 'charging') break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect((await send('POST', `/orders/${placed.body.id}/force-cancel`, {}, user)).status).toBe(403);
    const forced = await send('POST', `/orders/${placed.body.id}/force-cancel`, {});
    expect(forced.status).toBe(202);
    expect(await waitUntilFinal(engine.core.pool, [placed.body.id], 20_000)).toEqual([]);
    const ended = await send('GET', `/orders/${placed.body.id}`);
    expect(ended.body).toMatchObject({ status: 'cancelled', failure_reason: 'cancelled_by_operator' });
    expect((await stockOf(productId)).available).toBe(before.available + (before.held > 0 ? 1 : 0));
    expect((await checkInvariants(engine.core.pool, [placed.body.id])).violations).toEqual([]);
    const again = await send('POST', `/orders/${placed.body.id}/force-cancel`, {});
    expect(again.status).toBe(409);
  });
});

describe('pages', () => {
  it('walks a customer’s orders with a cursor: every order once, newest first', async () => {
    const user = `pager-${suffix}`;
    const ids: string[] = [];
    for (let i = 0; i < 5; i += 1) {
      const placed = await postJson(`${engine.url}/api/v1/orders`, {
        user_id: user,
        currency: 'USD',
        items: [{ product_id: productId, quantity: 1 }],
        shipping_address: address,
      });
      ids.push(placed.body.id);
    }
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const page: any = await send('GET', `/orders?limit=2${cursor ? `&cursor=${cursor}` : ''}`, undefined, user);
      expect(page.body.orders.length).toBeLessThanOrEqual(2);
      seen.push(...page.body.orders.map((o: any) => o.id));
      cursor = page.body.next_cursor;
    } while (cursor !== null);
    expect(seen).toEqual([...ids].reverse());
    for (const query of ['limit=0', 'limit=101', 'limit=x', 'cursor=zzz', 'status=shipped', 'extra=1']) {
      const bad = await send('GET', `/orders?${query}`, undefined, user);
      expect(bad.status, query).toBe(400);
      expect(bad.body.error.code).toBe('validation_failed');
    }
  });
});
