// PostgreSQL or Redis out of reach: the API answers 503 service_unavailable with Retry-After,
// never a 500 and never a request that hangs. Each engine here points at a port nothing listens on.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { address, getJson, postJson, startTestEngine, type TestEngine } from '../support/engine.ts';

const nowhere = '127.0.0.1:9';

async function closeWithin(engine: TestEngine | undefined, ms: number) {
  // Clients of an unreachable server may wait to say goodbye: do not let them hold the file.
  await Promise.race([engine?.close(), new Promise((resolve) => setTimeout(resolve, ms))]);
}

describe('PostgreSQL unreachable', () => {
  let engine: TestEngine;
  beforeAll(async () => {
    engine = await startTestEngine({ DATABASE_URL: `postgres://postgres@${nowhere}/nothing` }, { roles: [] });
  });
  afterAll(() => closeWithin(engine, 3_000));

  it.each([
    ['GET /products', () => getJson(`${engine.url}/api/v1/products`)],
    ['GET /orders/{id}', () => getJson(`${engine.url}/api/v1/orders/00000000-0000-4000-8000-000000000000`)],
    [
      'POST /orders',
      () =>
        postJson(
          `${engine.url}/api/v1/orders`,
          { user_id: 'u', currency: 'USD', items: [{ product_id: 'p', quantity: 1 }], shipping_address: address },
          { 'Idempotency-Key': 'while-down' },
        ),
    ],
  ])('%s -> 503 with Retry-After', async (_name, call) => {
    const res = await call();
    expect(res.status).toBe(503);
    expect(res.body.error.code).toBe('service_unavailable');
    expect(res.headers.get('retry-after')).toBe('5');
  });

  it('/ready says down (503); /health stays up', async () => {
    expect((await fetch(`${engine.url}/ready`)).status).toBe(503);
    expect((await fetch(`${engine.url}/health`)).status).toBe(200);
  });
});

describe('Redis unreachable', () => {
  let engine: TestEngine;
  beforeAll(async () => {
    engine = await startTestEngine(
      { REDIS_URL: `redis://${nowhere}`, RATE_LIMIT_REDIS_TIMEOUT_MS: '300' },
      { roles: [] },
    );
  });
  afterAll(() => closeWithin(engine, 3_000));

  it('an /api/v1 request -> 503 with Retry-After within the bound', async () => {
    const res = await fetch(`${engine.url}/api/v1/products`);
    expect(res.status).toBe(503);
    expect(res.headers.get('retry-after')).toBe('5');
    expect(((await res.json()) as any).error.code).toBe('service_unavailable');
  });

  it('/ready says redis down (503) within its bound instead of hanging', async () => {
    const started = Date.now();
    const res = await fetch(`${engine.url}/ready`);
    expect(res.status).toBe(503);
    expect(((await res.json()) as any).checks.redis).toBe('down');
    // Bounded (2 s per check), not held in the client's offline queue until the test times out.
    expect(Date.now() - started).toBeLessThan(10_000);
  });
});
