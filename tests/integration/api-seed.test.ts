// The seed document's own request, byte for byte, with a token for user-123 from the same signer
// as `npm run token`: 202 and then confirmed; with `Prefer: wait=10`, 201 and confirmed at once.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { upsertProduct } from '../../src/inventory/inventory.sql.ts';
import { getJson, startTestEngine, tokenFor, type TestEngine } from '../support/engine.ts';

const seedsDirectory = new URL('../../../shared/seeds/', import.meta.url);
// The seed's request body, copied byte for byte into the repository so the test runs in any clone.
const fixture = new URL('../fixtures/seed-000-order-request.json', import.meta.url);

/** The body of the seed's `curl -X POST .../api/v1/orders -d '...'`, exactly as written there. */
function seedDocumentBody(): string | null {
  if (!existsSync(seedsDirectory)) return null;
  const file = readdirSync(seedsDirectory).find((name) => name.startsWith('000_'));
  if (file === undefined) throw new Error(`no 000_*.txt seed document in ${seedsDirectory.pathname}`);
  const text = readFileSync(new URL(file, seedsDirectory), 'utf8');
  const match = /localhost:8080\/api\/v1\/orders[\s\S]*?-d '(\{[\s\S]*?\})'/.exec(text);
  if (match?.[1] === undefined) throw new Error(`no order request body in ${file}`);
  return match[1];
}

function seedOrderBody(): string {
  const copy = readFileSync(fixture, 'utf8');
  // Where the seed documents sit beside the repository, the copy must still be theirs.
  const original = seedDocumentBody();
  if (original !== null && original !== copy) throw new Error(`${fixture.pathname} differs from the seed document`);
  return copy;
}

let engine: TestEngine;
let body: string;

beforeAll(async () => {
  body = seedOrderBody();
  engine = await startTestEngine();
  await upsertProduct(engine.core.pool, {
    id: 'prod-001',
    name: 'Smartphone, 128 GB',
    price: '799.00',
    currency: 'USD',
    stock: 10,
  });
});
afterAll(async () => {
  await engine?.close();
});

async function postSeed(headers: Record<string, string> = {}) {
  const res = await fetch(`${engine.url}/api/v1/orders`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${await tokenFor('user-123')}`, ...headers },
    body,
  });
  return { status: res.status, body: (await res.json()) as Record<string, any> };
}

async function waitForStatus(id: string, status: string) {
  const token = await tokenFor('user-123');
  for (let attempt = 0; attempt < 200; attempt += 1) {
    const res = await getJson(`${engine.url}/api/v1/orders/${id}`, { authorization: `Bearer ${token}` });
    if (res.body.status === status) return res.body;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`order ${id} never reached ${status}`);
}

describe('the seed document’s example order', () => {
  it('is the seed’s JSON (user-123, prod-001, a US address with state)', () => {
    expect(JSON.parse(body)).toMatchObject({
      user_id: 'user-123',
      items: [{ product_id: 'prod-001', quantity: 1 }],
      shipping_address: { street: '123 Main St', state: 'CA', country: 'USA' },
    });
  });

  it('is accepted verbatim (202) and reaches confirmed', async () => {
    const res = await postSeed();
    expect(res.status).toBe(202);
    expect(res.body).toMatchObject({ status: 'pending', user_id: 'user-123', total: '799.00', currency: 'USD' });
    expect(res.body.shipping_address).toEqual({
      street: '123 Main St',
      city: 'San Francisco',
      state: 'CA',
      country: 'US',
      postal_code: '94102',
    });
    expect(await waitForStatus(res.body.id, 'confirmed')).toMatchObject({ status: 'confirmed' });
  });

  it('with Prefer: wait=10 answers 201 with the confirmed order', async () => {
    const res = await postSeed({ Prefer: 'wait=10' });
    expect(res.status).toBe(201);
    expect(res.body.status).toBe('confirmed');
  });

  it('without a token is 401 and writes nothing', async () => {
    const before = await engine.core.pool.query(`SELECT count(*)::int AS n FROM orders WHERE user_id = 'user-123'`);
    const res = await fetch(`${engine.url}/api/v1/orders`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body,
    });
    expect(res.status).toBe(401);
    expect(((await res.json()) as any).error.code).toBe('token_missing');
    const after = await engine.core.pool.query(`SELECT count(*)::int AS n FROM orders WHERE user_id = 'user-123'`);
    expect(after.rows[0].n).toBe(before.rows[0].n);
  });
});
