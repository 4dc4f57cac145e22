// The whole engine in the test process, on the real servers: core deps with a fresh BullMQ
// prefix, every worker, the sweeper and the HTTP API on an ephemeral port.
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll } from 'vitest';
import { createApiApp, listen } from '../../src/main/api-server.ts';
import type { CoreDeps } from '../../src/main/core-deps.ts';
import { startWorkers, type RunningWorkers } from '../../src/main/engine.ts';
import { workerRoles, type WorkerRole } from '../../src/main/roles.ts';
import { upsertProduct } from '../../src/inventory/inventory.sql.ts';
import { signToken, type Role } from '../../src/platform/auth.ts';
import { createMetrics } from '../../src/platform/metrics.ts';
import { createTestDeps } from './harness.ts';
import type { MachineVersion } from '../../machines/migrations/index.ts';
import { testConfig } from './test-config.ts';

export interface TestEngine {
  core: CoreDeps;
  url: string;
  workers: RunningWorkers | null;
  close(): Promise<void>;
}

export async function startTestEngine(
  overrides: Record<string, string> = {},
  options: { roles?: readonly WorkerRole[]; beforeWorkers?: (core: CoreDeps) => void; machine?: MachineVersion } = {},
): Promise<TestEngine> {
  const core = createTestDeps(overrides, options.machine);
  options.beforeWorkers?.(core);
  const metrics = createMetrics(false);
  const roles = options.roles ?? workerRoles;
  const workers =
    roles.length > 0
      ? await startWorkers(core, roles, metrics).catch(async (error: unknown) => {
          await core.close();
          throw error;
        })
      : null;
  const server: Server = await listen(createApiApp(core, metrics), 0, '127.0.0.1');
  const { port } = server.address() as AddressInfo;
  return {
    core,
    url: `http://127.0.0.1:${port}`,
    workers,
    async close() {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await workers?.close();
      await core.close();
    },
  };
}

/** What a test file reads of an API-only engine; the same names as on TestEngine. */
export interface ApiOnlyEngine {
  readonly url: string;
  readonly core: CoreDeps;
  /** A product of the file's own, so its orders never compete for another file's stock. */
  readonly product: string;
}

/**
 * The set-up of a file that tests what the API itself answers: an engine with no workers (orders stay as
 * the API left them) and one fresh product with `stock` units, started before the file's tests and
 * closed after them. Read the fields inside tests and hooks only: they exist once `beforeAll` has run.
 */
export function useApiOnlyEngine(stock: number): ApiOnlyEngine {
  let engine: TestEngine | undefined;
  let product: string | undefined;
  beforeAll(async () => {
    engine = await startTestEngine({}, { roles: [] });
    product = await freshProduct(engine.core, stock);
  });
  afterAll(async () => {
    await engine?.close();
  });
  const started = <T>(value: T | undefined, name: string): T => {
    if (value === undefined) throw new Error(`useApiOnlyEngine: ${name} read before beforeAll ran`);
    return value;
  };
  return {
    get url() {
      return started(engine, 'url').url;
    },
    get core() {
      return started(engine, 'core').core;
    },
    get product() {
      return started(product, 'product');
    },
  };
}

export const address = {
  name: 'Ada Lovelace',
  street: '12 St James Sq',
  city: 'London',
  postal_code: 'SW1Y 4JH',
  country: 'GB',
};

/** A Bearer token signed with the test configuration's secret. */
export async function tokenFor(userId: string, role: Role = 'customer', ttlSeconds = 3_600): Promise<string> {
  return signToken(testConfig(), { userId, role, ttlSeconds });
}

let adminToken: Promise<string> | undefined;

/** Helpers send an admin's token unless the caller gives its own Authorization header. */
async function withAuth(headers: Record<string, string>): Promise<Record<string, string>> {
  if (Object.keys(headers).some((name) => name.toLowerCase() === 'authorization')) return headers;
  adminToken ??= tokenFor('test-admin', 'admin', 24 * 3_600);
  return { authorization: `Bearer ${await adminToken}`, ...headers };
}

/** A product of its own for one test, so tests never share stock. */
export async function freshProduct(core: CoreDeps, stock: number, price = '10.00', currency = 'USD'): Promise<string> {
  const id = `p-${randomUUID().slice(0, 12)}`;
  await upsertProduct(core.pool, { id, name: `test product ${id}`, price, currency, stock });
  return id;
}

export async function postJson(url: string, body: unknown, headers: Record<string, string> = {}) {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(await withAuth(headers)) },
    body: JSON.stringify(body),
  });
  return { status: res.status, headers: res.headers, body: (await res.json()) as Record<string, any> };
}

export async function getJson(url: string, headers: Record<string, string> = {}) {
  const res = await fetch(url, { headers: await withAuth(headers) });
  return { status: res.status, headers: res.headers, body: (await res.json()) as Record<string, any> };
}

/**
 * Places one unit of a fresh product for `userId` (with an admin's token) and returns the order id;
 * waits up to `waitSeconds` for an outcome (`Prefer: wait`). A refused order fails the test.
 */
export async function placeOne(
  engine: TestEngine,
  userId: string,
  waitSeconds: number,
  correlationId?: string,
): Promise<string> {
  const product = await freshProduct(engine.core, 5);
  const res = await postJson(
    `${engine.url}/api/v1/orders`,
    { user_id: userId, currency: 'USD', items: [{ product_id: product, quantity: 1 }], shipping_address: address },
    { Prefer: `wait=${waitSeconds}`, ...(correlationId === undefined ? {} : { 'X-Correlation-Id': correlationId }) },
  );
  if (res.status >= 300) throw new Error(`order for ${userId} refused: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body.id as string;
}
