// Rate limits live in Redis, so two API instances share them: a burst past the limit split over
// both gets 429 with Retry-After and the RateLimit headers. Limits are per caller (orders and the
// rest counted apart) and per IP.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { address, freshProduct, startTestEngine, tokenFor, type TestEngine } from '../support/engine.ts';

const limits = {
  RATE_LIMIT_WINDOW_MS: '60000',
  RATE_LIMIT_ORDERS_MAX: '4',
  RATE_LIMIT_API_MAX: '6',
  RATE_LIMIT_IP_MAX: '1000',
};
let first: TestEngine;
let second: TestEngine;
let product: string;

beforeAll(async () => {
  const shared = { ...limits, QUEUE_PREFIX: `rl-${randomUUID().slice(0, 8)}` };
  first = await startTestEngine(shared, { roles: [] });
  second = await startTestEngine(shared, { roles: [] });
  product = await freshProduct(first.core, 1_000);
});
afterAll(async () => {
  await first?.close();
  await second?.close();
});

async function place(engine: TestEngine, user: string) {
  return fetch(`${engine.url}/api/v1/orders`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${await tokenFor(user)}` },
    body: JSON.stringify({
      user_id: user,
      currency: 'USD',
      items: [{ product_id: product, quantity: 1 }],
      shipping_address: address,
    }),
  });
}

describe('rate limits shared through Redis', () => {
  it('a burst of POST /orders over two instances: the limit holds across both, then 429 + Retry-After', async () => {
    const user = `burst-${randomUUID().slice(0, 6)}`;
    const statuses: number[] = [];
    let refused: Response | undefined;
    for (let i = 0; i < 8; i += 1) {
      const res = await place(i % 2 === 0 ? first : second, user);
      statuses.push(res.status);
      if (res.status === 429) refused ??= res;
      else await res.arrayBuffer();
    }
    expect(statuses).toEqual([202, 202, 202, 202, 429, 429, 429, 429]);
    expect(Number(refused!.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(refused!.headers.get('ratelimit-policy')).toMatch(/q=4/);
    expect(refused!.headers.get('ratelimit')).toMatch(/r=0/);
    expect(((await refused!.json()) as any).error.code).toBe('rate_limited');
    const orders = await first.core.pool.query(`SELECT count(*)::int AS n FROM orders WHERE user_id = $1`, [user]);
    expect(orders.rows[0].n).toBe(4);
  });

  it('counts per caller: another user still places orders; reads have their own limit', async () => {
    const user = `other-${randomUUID().slice(0, 6)}`;
    expect((await place(second, user)).status).toBe(202);
    const token = await tokenFor(user);
    const reads: number[] = [];
    for (let i = 0; i < 7; i += 1) {
      const engine = i % 2 === 0 ? first : second;
      const res = await fetch(`${engine.url}/api/v1/products`, { headers: { authorization: `Bearer ${token}` } });
      await res.arrayBuffer();
      reads.push(res.status);
    }
    expect(reads).toEqual([200, 200, 200, 200, 200, 200, 429]);
  });
});

describe('per IP, before authentication', () => {
  let engine: TestEngine;
  beforeAll(async () => {
    engine = await startTestEngine(
      { RATE_LIMIT_IP_MAX: '3', QUEUE_PREFIX: `rl-${randomUUID().slice(0, 8)}` },
      { roles: [] },
    );
  });
  afterAll(async () => {
    await engine?.close();
  });

  it('unauthenticated requests count too: the fourth from one address is 429', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 4; i += 1) {
      const res = await fetch(`${engine.url}/api/v1/orders`);
      await res.arrayBuffer();
      statuses.push(res.status);
    }
    expect(statuses).toEqual([401, 401, 401, 429]);
  });
});
