// The API process on SIGTERM: stops accepting, finishes the request in flight, closes its pools
// and exits 0. Its request log carries the correlation id and never the token.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { upsertProduct } from '../../src/inventory/inventory.sql.ts';
import { createTestDeps } from '../support/harness.ts';
import { address, tokenFor } from '../support/engine.ts';
import { testDatabaseUrl } from '../support/test-config.ts';

const port = 20_000 + Math.floor(Math.random() * 20_000);
const url = `http://127.0.0.1:${port}`;
let child: ChildProcess;
let output = '';
const product = `shutdown-${randomUUID().slice(0, 8)}`;

beforeAll(async () => {
  const deps = createTestDeps();
  await upsertProduct(deps.pool, { id: product, name: 'shutdown test', price: '1.00', currency: 'USD', stock: 10 });
  await deps.close();
  child = spawn(process.execPath, ['--import', 'tsx', 'src/main/api.main.ts'], {
    env: {
      ...process.env,
      DATABASE_URL: testDatabaseUrl(),
      QUEUE_PREFIX: `shutdown-${randomUUID().slice(0, 6)}`,
      HTTP_PORT: String(port),
      LOG_LEVEL: 'debug',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  for (let attempt = 0; attempt < 150; attempt += 1) {
    if (
      await fetch(`${url}/health`).then(
        (r) => r.ok,
        () => false,
      )
    )
      return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`api process did not start:\n${output}`);
}, 30_000);
afterAll(() => {
  if (child.exitCode === null) child.kill('SIGKILL');
});

describe('SIGTERM', () => {
  it('finishes the request in flight, exits 0, and logged the correlation id but no token', async () => {
    const token = await tokenFor('shutdown-user');
    // No workers run, so the order stays pending and Prefer: wait keeps this request open ~2 s.
    const inFlight = fetch(`${url}/api/v1/orders`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        authorization: `Bearer ${token}`,
        prefer: 'wait=2',
        'x-correlation-id': 'shutdown-corr-1',
      },
      body: JSON.stringify({
        user_id: 'shutdown-user',
        currency: 'USD',
        items: [{ product_id: product, quantity: 1 }],
        shipping_address: address,
      }),
    });
    await new Promise((resolve) => setTimeout(resolve, 500));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    child.kill('SIGTERM');
    const res = await inFlight;
    expect(res.status).toBe(202);
    expect(res.headers.get('x-correlation-id')).toBe('shutdown-corr-1');
    expect(((await res.json()) as any).status).toBe('pending');
    expect(await exited).toBe(0);
    await expect(fetch(`${url}/health`)).rejects.toThrow();
    expect(output).toContain('"correlation_id":"shutdown-corr-1"');
    expect(output).not.toContain(token);
  }, 30_000);
});
