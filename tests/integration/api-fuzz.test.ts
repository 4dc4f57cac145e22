// Generated malformed requests (fast-check, seeded, so a failure replays) to every endpoint:
// bodies (wrong types, missing and extra fields, huge numbers, unicode, deep nesting, __proto__
// and constructor keys, oversized, invalid JSON), headers (content types and their parameters,
// content encodings, idempotency keys, Prefer, Authorization) and path parameters (any bytes,
// escaped or not). No answer is a 5xx, and a refused request writes no row.
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { address, freshProduct, startTestEngine, tokenFor, type TestEngine } from '../support/engine.ts';

let engine: TestEngine;
let product: string;
let admin: string;

beforeAll(async () => {
  engine = await startTestEngine({}, { roles: [] });
  product = await freshProduct(engine.core, 1_000_000);
  admin = await tokenFor('fuzz-admin', 'admin');
});
afterAll(async () => {
  await engine?.close();
});

const routes: Array<[string, string]> = [
  ['POST', '/api/v1/orders'],
  ['GET', '/api/v1/orders'],
  ['GET', '/api/v1/orders/{p}'],
  ['GET', '/api/v1/orders/{p}/history'],
  ['POST', '/api/v1/orders/{p}/cancel'],
  ['POST', '/api/v1/orders/{p}/force-cancel'],
  ['GET', '/api/v1/products'],
  ['POST', '/api/v1/products'],
  ['GET', '/api/v1/products/{p}'],
  ['PATCH', '/api/v1/products/{p}'],
  ['PUT', '/api/v1/products/{p}/stock'],
  ['POST', '/api/v1/products/{p}/stock'],
  ['GET', '/api/v1/coupons/{p}'],
  ['POST', '/api/v1/coupons'],
  ['GET', '/api/v1/accounts/{p}/balance'],
  ['GET', '/api/v1/accounts/{p}/transactions'],
  ['GET', '/api/v1/ledger/validate'],
];

const validOrder = () => ({
  user_id: 'fuzz-admin',
  currency: 'USD',
  items: [{ product_id: product, quantity: 1 }],
  shipping_address: { ...address },
});

// Path parameters: any bytes, percent-escaped or raw where a URL allows them.
const pathParam = fc.oneof(
  fc
    .uint8Array({ maxLength: 40 })
    .map((bytes) => [...bytes].map((b) => `%${b.toString(16).padStart(2, '0')}`).join('')),
  fc.string({ unit: 'grapheme', maxLength: 30 }).map(encodeURIComponent),
  fc.stringMatching(/^[A-Za-z0-9%._~:-]{0,40}$/),
  fc.constantFrom('00000000-0000-4000-8000-000000000000', '%', '%E0%A4%A', '..', 'customer:x', '%00', 'WELCOME10'),
);

const nasty = fc.oneof(
  fc.constantFrom(1e308, -1, 0, 1.5, 2 ** 53 + 1, '', ' ', '\u0000', '\ud800', 'é', '𝔘𝔫𝔦', null, true, [], {}),
  fc.string({ unit: 'binary', maxLength: 20 }),
  fc.jsonValue({ maxDepth: 3 }),
);
const keys = fc.oneof(fc.constantFrom('__proto__', 'constructor', 'prototype', 'status', 'total', ''), fc.string());

/** A body text: a mutated valid order, any JSON, deep nesting, raw numbers, broken or oversized JSON. */
const bodyText = fc.oneof(
  fc
    .tuple(fc.constantFrom('user_id', 'currency', 'items', 'shipping_address', 'coupon_code'), nasty)
    .map(([key, value]) => JSON.stringify({ ...validOrder(), [key]: value })),
  fc.tuple(fc.constantFrom('street', 'city', 'state', 'country', 'postal_code', 'name'), nasty).map(([key, value]) => {
    const body = validOrder();
    return JSON.stringify({ ...body, shipping_address: { ...body.shipping_address, [key]: value } });
  }),
  fc
    .tuple(keys, nasty)
    .map(([key, value]) =>
      JSON.stringify(validOrder()).replace(/^\{/, `{${JSON.stringify(key)}:${JSON.stringify(value) ?? 'null'},`),
    ),
  fc
    .constantFrom('quantity":1e400', 'quantity":-0', 'quantity":1.0000000000000002', 'quantity":99999999999999999999')
    .map((raw) => JSON.stringify(validOrder()).replace('quantity":1', raw)),
  fc.jsonValue({ maxDepth: 4 }).map((value) => JSON.stringify(value)),
  fc.integer({ min: 100, max: 5_000 }).map((depth) => '['.repeat(depth) + ']'.repeat(depth)),
  fc.integer({ min: 100, max: 2_000 }).map((depth) => '{"a":'.repeat(depth) + '1' + '}'.repeat(depth)),
  fc.constantFrom('', '{', '{"user_id":', 'null', '"x"', 'NaN', '{"a":1,}', '\u0000', '{"__proto__":{"isAdmin":true}}'),
  fc.constant('x').map(() => JSON.stringify({ ...validOrder(), pad: 'y'.repeat(70_000) })),
  fc.string({ unit: 'binary', maxLength: 200 }),
);

const headerValue = fc.stringMatching(/^[\x21-\x7e]([\x20-\x7e]{0,60}[\x21-\x7e])?$/);
const headers = fc.record(
  {
    'content-type': fc.oneof(
      fc.constantFrom(
        'application/json',
        'application/json; charset=utf-8',
        'application/json; charset=latin1',
        'application/json; charset=bogus',
        'application/json; charset=utf-16',
        'application/merge-patch+json',
        'text/plain',
        'multipart/form-data; boundary=x',
        'application/x-www-form-urlencoded',
        'application/json;;;',
        '*/*',
      ),
      headerValue,
    ),
    'content-encoding': fc.oneof(
      fc.constantFrom('gzip', 'deflate', 'br', 'identity', 'compress', 'gzip, br', 'x'),
      headerValue,
    ),
    'idempotency-key': fc.oneof(headerValue, fc.constant('k'.repeat(300))),
    prefer: fc.oneof(
      fc.constantFrom('wait=0', 'wait=-1', 'wait=99999999999999999999', 'wait=1.5', 'respond-async'),
      headerValue,
    ),
    'x-correlation-id': headerValue,
    authorization: fc.oneof(
      fc.constant('Bearer ').map(() => `Bearer ${admin}`),
      fc.constantFrom('Bearer', 'Bearer x.y.z', 'Basic Zm9vOmJhcg=='),
      headerValue,
    ),
  },
  { requiredKeys: [] },
);

async function rowCounts(): Promise<string> {
  const result = await engine.core.pool.query(
    `SELECT (SELECT count(*) FROM orders) AS orders, (SELECT count(*) FROM outbox) AS outbox,
            (SELECT count(*) FROM idempotency_keys) AS keys, (SELECT count(*) FROM products) AS products,
            (SELECT count(*) FROM coupons) AS coupons, (SELECT sum(on_hand) FROM stock) AS stock`,
  );
  return JSON.stringify(result.rows[0]);
}

describe('malformed requests, generated', () => {
  it('never answer 5xx, and a refused request writes nothing (5,000 seeded runs)', async () => {
    const serverErrors: string[] = [];
    const statuses = new Map<number, number>();
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...routes),
        pathParam,
        headers,
        bodyText,
        async ([method, template], param, extra, body) => {
          const url = `${engine.url}${template.replace('{p}', param)}`;
          const before = await rowCounts();
          const res = await fetch(url, {
            method,
            headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json', ...extra },
            ...(method === 'GET' ? {} : { body }),
          }).catch((error: unknown) => ({ status: -1, text: async () => String(error) }));
          const text = await res.text();
          statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
          if (res.status >= 500 || res.status === -1) {
            serverErrors.push(
              `${method} ${url} ${JSON.stringify(extra)} ${body.slice(0, 200)} -> ${res.status} ${text.slice(0, 200)}`,
            );
          }
          if (res.status >= 400 && res.status < 500)
            expect(await rowCounts(), `${method} ${url} -> ${res.status}`).toBe(before);
        },
      ),
      { numRuns: 5_000, seed: 20_261_128, endOnFailure: true },
    );
    expect(serverErrors).toEqual([]);
    // The generators reach every kind of refusal, and some requests get through.
    console.info(`fuzz statuses: ${JSON.stringify(Object.fromEntries([...statuses].sort(([a], [b]) => a - b)))}`);
    for (const status of [400, 401, 404, 413, 415])
      expect(statuses.get(status) ?? 0, `status ${status}`).toBeGreaterThan(0);
  }, 600_000);
});
