// Bad input to POST /api/v1/orders: a 400 with a machine-readable code naming the field, and
// nothing written (no order, no outbox row, no idempotency key).
import { describe, expect, it } from 'vitest';
import { address, getJson, postJson, tokenFor, useApiOnlyEngine } from '../support/engine.ts';

const engine = useApiOnlyEngine(10);

async function rowCounts() {
  const result = await engine.core.pool.query(
    `SELECT (SELECT count(*) FROM orders)::int AS orders, (SELECT count(*) FROM outbox)::int AS outbox,
            (SELECT count(*) FROM idempotency_keys)::int AS keys`,
  );
  return result.rows[0];
}

const valid = () => ({
  user_id: 'validator',
  currency: 'USD',
  items: [{ product_id: engine.product, quantity: 1 }],
  shipping_address: { ...address },
});

describe('POST /api/v1/orders refuses bad input and writes nothing', () => {
  it.each([
    ['missing user_id', (b: any) => delete b.user_id, 'user_id', 'validation_failed'],
    ['missing items', (b: any) => delete b.items, 'items', 'validation_failed'],
    ['empty items', (b: any) => (b.items = []), 'items', 'validation_failed'],
    ['missing shipping_address', (b: any) => delete b.shipping_address, 'shipping_address', 'validation_failed'],
    ['zero quantity', (b: any) => (b.items[0].quantity = 0), 'items[0].quantity', 'validation_failed'],
    ['negative quantity', (b: any) => (b.items[0].quantity = -2), 'items[0].quantity', 'validation_failed'],
    ['fractional quantity', (b: any) => (b.items[0].quantity = 1.5), 'items[0].quantity', 'validation_failed'],
    ['quantity as a string', (b: any) => (b.items[0].quantity = '1'), 'items[0].quantity', 'validation_failed'],
    ['unknown currency', (b: any) => (b.currency = 'XYZ'), 'currency', 'validation_failed'],
    ['a client-chosen status', (b: any) => (b.status = 'confirmed'), 'status', 'validation_failed'],
    ['a client-chosen total', (b: any) => (b.total = '0.01'), 'total', 'validation_failed'],
    ['an extra item field', (b: any) => (b.items[0].price = '0.01'), 'items[0].price', 'validation_failed'],
    [
      'unknown product',
      (b: any) => (b.items[0].product_id = 'no-such-product'),
      'items[0].product_id',
      'unknown_product',
    ],
    ['product in another currency', (b: any) => (b.currency = 'EUR'), 'items[0].product_id', 'currency_mismatch'],
    [
      'unknown country',
      (b: any) => (b.shipping_address.country = 'XX'),
      'shipping_address.country',
      'validation_failed',
    ],
    [
      'country in words',
      (b: any) => (b.shipping_address.country = 'Germany'),
      'shipping_address.country',
      'validation_failed',
    ],
    ['missing street', (b: any) => delete b.shipping_address.street, 'shipping_address.street', 'validation_failed'],
    ['old line1 field', (b: any) => (b.shipping_address.line1 = 'x'), 'shipping_address.line1', 'validation_failed'],
    [
      'NUL in a street',
      (b: any) => (b.shipping_address.street = 'a\u0000b'),
      'shipping_address.street',
      'validation_failed',
    ],
    [
      'lone surrogate in a city',
      (b: any) => (b.shipping_address.city = 'a\ud800'),
      'shipping_address.city',
      'validation_failed',
    ],
  ])('%s -> 400 naming %s', async (_name, mutate, field, code) => {
    const before = await rowCounts();
    const body = valid();
    mutate(body);
    const res = await postJson(`${engine.url}/api/v1/orders`, body, { 'Idempotency-Key': `bad-${field}-${code}` });
    expect(res.status).toBe(400);
    expect(res.body.error).toMatchObject({ code, field });
    expect(typeof res.body.error.message).toBe('string');
    expect(await rowCounts()).toEqual(before);
  });

  it('malformed JSON -> 400 malformed_json', async () => {
    const res = await fetch(`${engine.url}/api/v1/orders`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${await tokenFor('validator')}` },
      body: '{"user_id":',
    });
    expect(res.status).toBe(400);
    expect(((await res.json()) as any).error.code).toBe('malformed_json');
  });

  it('a valid order is accepted: 202, pending, Location', async () => {
    const res = await postJson(`${engine.url}/api/v1/orders`, valid());
    expect(res.status).toBe(202);
    expect(res.body).toMatchObject({ status: 'pending', subtotal: '10.00', total: '10.00', currency: 'USD' });
    expect(res.headers.get('location')).toBe(`/api/v1/orders/${res.body.id}`);
  });

  it('the same Idempotency-Key replays the first answer; with another body it is refused', async () => {
    const first = await postJson(`${engine.url}/api/v1/orders`, valid(), { 'Idempotency-Key': 'same-key-1' });
    const again = await postJson(`${engine.url}/api/v1/orders`, valid(), { 'Idempotency-Key': 'same-key-1' });
    expect(again.body.id).toBe(first.body.id);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    const other = await postJson(
      `${engine.url}/api/v1/orders`,
      { ...valid(), user_id: 'someone-else' },
      { 'Idempotency-Key': 'same-key-1' },
    );
    expect(other.status).toBe(422);
    expect(other.body.error).toMatchObject({ code: 'idempotency_key_reused', field: 'Idempotency-Key' });
  });

  it('GET of an unknown or malformed order id -> 404 / 400', async () => {
    expect((await getJson(`${engine.url}/api/v1/orders/00000000-0000-4000-8000-000000000000`)).status).toBe(404);
    const bad = await getJson(`${engine.url}/api/v1/orders/not-a-uuid`);
    expect(bad.status).toBe(400);
    expect(bad.body.error.field).toBe('id');
  });

  it.each([
    ['USA', 'US'],
    ['usa', 'US'],
    ['DEU', 'DE'],
    ['gb', 'GB'],
  ])('country %s is stored as %s', async (given, stored) => {
    const body = valid();
    const res = await postJson(`${engine.url}/api/v1/orders`, {
      ...body,
      shipping_address: { ...address, country: given, state: 'CA', street2: 'Apt 4', name: undefined },
    });
    expect(res.status).toBe(202);
    expect(res.body.shipping_address).toEqual({
      name: undefined,
      street: address.street,
      street2: 'Apt 4',
      city: address.city,
      state: 'CA',
      postal_code: address.postal_code,
      country: stored,
    });
  });

  it('lists products with their available stock', async () => {
    const res = await getJson(`${engine.url}/api/v1/products/${engine.product}`);
    expect(res.body).toMatchObject({
      id: engine.product,
      price: '10.00',
      currency: 'USD',
      stock: { available: expect.any(Number) },
    });
  });
});
