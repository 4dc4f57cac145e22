// Idempotency-Key is atomic with the order: the key reserves the order's id, so one key makes at
// most one order, even when the first attempt dies after its commit; keys are per caller.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { address, freshProduct, postJson, startTestEngine, tokenFor, type TestEngine } from '../support/engine.ts';

let engine: TestEngine;
let product: string;

beforeAll(async () => {
  engine = await startTestEngine();
  product = await freshProduct(engine.core, 100_000);
});
afterAll(async () => {
  await engine?.close();
});

const order = (userId: string, quantity = 1) => ({
  user_id: userId,
  currency: 'USD',
  items: [{ product_id: product, quantity }],
  shipping_address: address,
});
const ordersOf = async (userId: string) =>
  (await engine.core.pool.query(`SELECT id::text FROM orders WHERE user_id = $1`, [userId])).rows.map((r) => r.id);
const place = async (userId: string, key: string, body = order(userId), extra: Record<string, string> = {}) =>
  postJson(`${engine.url}/api/v1/orders`, body, {
    authorization: `Bearer ${await tokenFor(userId)}`,
    'Idempotency-Key': key,
    ...extra,
  });

describe('Idempotency-Key', () => {
  it('100 parallel POSTs with one key create exactly one order; each answer is that order or 409', async () => {
    const user = `idem-${randomUUID().slice(0, 8)}`;
    const answers = await Promise.all(Array.from({ length: 100 }, () => place(user, 'parallel-key')));
    const orders = await ordersOf(user);
    expect(orders).toHaveLength(1);
    for (const answer of answers) {
      if (answer.status === 409) expect(answer.body.error.code).toBe('idempotency_request_in_progress');
      else {
        expect([201, 202]).toContain(answer.status);
        expect(answer.body.id).toBe(orders[0]);
      }
    }
    const retry = await place(user, 'parallel-key');
    expect(retry.body.id).toBe(orders[0]);
    expect(retry.headers.get('idempotent-replayed')).toBe('true');
    const other = await place(user, 'parallel-key', order(user, 2));
    expect(other.status).toBe(422);
    expect(other.body.error.code).toBe('idempotency_key_reused');
    expect(await ordersOf(user)).toHaveLength(1);
  });

  it('is scoped to the caller: the same key from two users makes two orders', async () => {
    const [a, b] = [`scope-a-${randomUUID().slice(0, 6)}`, `scope-b-${randomUUID().slice(0, 6)}`];
    const first = await place(a, 'shared-key');
    const second = await place(b, 'shared-key');
    expect(first.status).toBe(202);
    expect(second.status).toBe(202);
    expect(first.body.id).not.toBe(second.body.id);
  });

  it('an attempt that died after its commit (no stored answer): the retry returns that order, no second one', async () => {
    const user = `crash-${randomUUID().slice(0, 8)}`;
    const first = await place(user, 'crash-key');
    expect(first.status).toBe(202);
    // What a SIGKILL between the order's commit and the stored answer leaves behind.
    await engine.core.pool.query(
      `UPDATE idempotency_keys SET response_status = NULL, response_body = NULL WHERE caller = $1 AND key = 'crash-key'`,
      [user],
    );
    const retry = await place(user, 'crash-key');
    expect([201, 202]).toContain(retry.status);
    expect(retry.body.id).toBe(first.body.id);
    // Even after the in-progress mark goes stale and the key is taken over, the reserved id stands.
    await engine.core.pool.query(
      `UPDATE idempotency_keys SET response_status = NULL, response_body = NULL, created_at = now() - interval '10 minutes'
        WHERE caller = $1 AND key = 'crash-key'`,
      [user],
    );
    const late = await place(user, 'crash-key');
    expect(late.body.id).toBe(first.body.id);
    expect(late.headers.get('idempotent-replayed')).toBe('true');
    expect(await ordersOf(user)).toEqual([first.body.id]);
  });

  it('a key past its time may be used again and makes a new order', async () => {
    const user = `ttl-${randomUUID().slice(0, 8)}`;
    const first = await place(user, 'old-key');
    await engine.core.pool.query(
      `UPDATE idempotency_keys SET created_at = now() - interval '25 hours' WHERE caller = $1 AND key = 'old-key'`,
      [user],
    );
    const again = await place(user, 'old-key', order(user, 3));
    expect(again.status).toBe(202);
    expect(again.body.id).not.toBe(first.body.id);
    expect(await ordersOf(user)).toHaveLength(2);
  });

  it('a refused request frees its key', async () => {
    const user = `refused-${randomUUID().slice(0, 8)}`;
    const bad = await place(user, 'bad-key', { ...order(user), items: [{ product_id: 'no-such', quantity: 1 }] });
    expect(bad.status).toBe(400);
    expect((await engine.core.pool.query(`SELECT 1 FROM idempotency_keys WHERE caller = $1`, [user])).rowCount).toBe(0);
  });
});
