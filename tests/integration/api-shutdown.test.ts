// The API process on SIGTERM: stops accepting, finishes the request in flight, closes its pools
// and exits 0; its request log carries the correlation id and never the token. On SIGKILL right
// after an order's commit, before its answer is stored: a retry with the same Idempotency-Key
// (to a new process) returns that order, and exactly one order exists.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { upsertProduct } from '../../src/inventory/inventory.sql.ts';
import { startApiProcess, type ApiProcess } from '../support/api-process.ts';
import { address, tokenFor } from '../support/engine.ts';
import { createTestDeps } from '../support/harness.ts';

const product = `shutdown-${randomUUID().slice(0, 8)}`;
const deps = createTestDeps();
const started: ApiProcess[] = [];

beforeAll(async () => {
  await upsertProduct(deps.pool, { id: product, name: 'shutdown test', price: '1.00', currency: 'USD', stock: 10 });
});
afterAll(async () => {
  for (const api of started) if (api.child.exitCode === null) api.child.kill('SIGKILL');
  await deps.close();
});

const placeOrder = async (api: ApiProcess, user: string, headers: Record<string, string>) =>
  fetch(`${api.url}/api/v1/orders`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${await tokenFor(user)}`, ...headers },
    body: JSON.stringify({
      user_id: user,
      currency: 'USD',
      items: [{ product_id: product, quantity: 1 }],
      shipping_address: address,
    }),
  });

describe('SIGTERM', () => {
  it('finishes the request in flight, exits 0, and logged the correlation id but no token', async () => {
    const api = await startApiProcess({ LOG_LEVEL: 'debug' });
    started.push(api);
    const token = await tokenFor('shutdown-user');
    // No workers run, so the order stays pending and Prefer: wait keeps this request open ~2 s.
    const inFlight = placeOrder(api, 'shutdown-user', { prefer: 'wait=2', 'x-correlation-id': 'shutdown-corr-1' });
    await new Promise((resolve) => setTimeout(resolve, 500));
    api.child.kill('SIGTERM');
    const res = await inFlight;
    expect(res.status).toBe(202);
    expect(res.headers.get('x-correlation-id')).toBe('shutdown-corr-1');
    expect(((await res.json()) as any).status).toBe('pending');
    expect(await api.exited).toBe(0);
    await expect(fetch(`${api.url}/health`)).rejects.toThrow();
    expect(api.output()).toContain('"correlation_id":"shutdown-corr-1"');
    expect(api.output()).not.toContain(token);
  }, 30_000);
});

describe('SIGKILL between the order’s commit and its stored answer', () => {
  it('a retry with the same Idempotency-Key returns that order; exactly one order exists', async () => {
    const user = `killed-${randomUUID().slice(0, 8)}`;
    const doomed = await startApiProcess({ API_PAUSE_AFTER_ORDER_COMMIT_MS: '30000' });
    started.push(doomed);
    const lost = placeOrder(doomed, user, { 'Idempotency-Key': 'kill-key' }).catch((error: unknown) => error);
    let committed: string | undefined;
    for (let attempt = 0; attempt < 100 && committed === undefined; attempt += 1) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      committed = (await deps.pool.query(`SELECT id::text FROM orders WHERE user_id = $1`, [user])).rows[0]?.id;
    }
    expect(committed).toBeDefined();
    doomed.child.kill('SIGKILL');
    await doomed.exited;
    expect(await lost).toBeInstanceOf(Error);
    const key = await deps.pool.query(`SELECT response_status FROM idempotency_keys WHERE caller = $1`, [user]);
    expect(key.rows).toEqual([{ response_status: null }]);

    const fresh = await startApiProcess();
    started.push(fresh);
    const retry = await placeOrder(fresh, user, { 'Idempotency-Key': 'kill-key' });
    expect(retry.status).toBe(202);
    expect(((await retry.json()) as any).id).toBe(committed);
    const orders = await deps.pool.query(`SELECT id::text FROM orders WHERE user_id = $1`, [user]);
    expect(orders.rows.map((r) => r.id)).toEqual([committed]);
    fresh.child.kill('SIGTERM');
    await fresh.exited;
  }, 60_000);
});
