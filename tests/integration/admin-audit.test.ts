// The audit trail and the viewer role on the real engine. Every operator action (force-cancel from
// the console and the API, redrive, product, price, stock and coupon changes, login, a Bull Board
// action) leaves one row naming who, what, which order or product and the outcome; an action with
// a transaction writes its row in it (same xmin as the rows it changed); the table is append-only;
// GET /api/v1/admin/audit filters and pages it. A viewer reads every admin page and JSON, and
// every action answers it 403, changing nothing. `npm run token -- --role viewer` makes one.
import { spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { decodeJwt } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auditPageSchema } from '../../src/admin/console.schemas.ts';
import { readOrder } from '../../src/orders/order.sql.ts';
import { signToken, type Role } from '../../src/platform/auth.ts';
import { address, freshProduct, getJson, placeOne, startTestEngine, type TestEngine } from '../support/engine.ts';
import { messageFor, until } from '../support/harness.ts';

let engine: TestEngine;
const run = randomUUID().slice(0, 6);
const admin = `ops-${run}`;
const viewer = `viewer-${run}`;
const tokens: Partial<Record<Role, string>> = {};

beforeAll(async () => {
  // A test_timeout order waits in charging (transient failures, attempts far apart): cancellable.
  engine = await startTestEngine({ PAYMENT_DEADLINE_MS: '600000', QUEUE_ATTEMPTS: '50', QUEUE_BACKOFF_MS: '4000' });
  for (const [role, user] of [
    ['admin', admin],
    ['viewer', viewer],
    ['customer', `customer-${run}`],
  ] as const)
    tokens[role] = await signToken(engine.core.config, { userId: user, role, ttlSeconds: 600 });
}, 120_000);
afterAll(async () => {
  await engine?.close();
});

const as = (role: Role) => ({ Authorization: `Bearer ${tokens[role]}` });

async function send(method: string, path: string, role: Role, body?: unknown) {
  const res = await fetch(`${engine.url}${path}`, {
    method,
    headers: { ...as(role), ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  return { status: res.status, body: (text.startsWith('{') ? JSON.parse(text) : text) as Record<string, any> };
}

/**
 * Holds the orders worker while `act` runs: the cancel's outbox row then keeps the xmin of the
 * transaction that wrote it (the worker that takes the cancel marks the row, a new row version).
 */
async function withOrdersHeld(act: () => Promise<void>): Promise<void> {
  const orders = engine.workers?.workers.find((w) => w.name === 'orders');
  if (orders === undefined) throw new Error('the test engine runs no orders worker');
  await orders.pause();
  try {
    await act();
  } finally {
    await orders.resume();
  }
}

async function stuckOrder(): Promise<string> {
  const id = await placeOne(engine, `test_timeout_${run}`, 0);
  await until(async () => ((await readOrder(engine.core.pool, id))?.state === 'charging' ? true : undefined));
  return id;
}

interface Row {
  actor: string;
  actor_role: string;
  action: string;
  order_id: string | null;
  product_id: string | null;
  target: string | null;
  outcome: string;
  detail: Record<string, unknown>;
  xmin: string;
}

async function auditRows(where: string, values: unknown[]): Promise<Row[]> {
  const result = await engine.core.pool.query<Row>(
    `SELECT actor, actor_role, action, order_id::text, product_id, target, outcome, detail, xmin::text
       FROM audit_log WHERE ${where} ORDER BY id`,
    values,
  );
  return result.rows;
}

/** The transaction that last wrote a row, by its xmin. */
async function xminOf(sql: string, values: unknown[]): Promise<string> {
  return (await engine.core.pool.query<{ xmin: string }>(sql, values)).rows[0]!.xmin;
}

describe('operator actions leave audit rows', () => {
  it('records a force-cancel from the console in the cancel transaction, and a refused one', async () => {
    const id = await stuckOrder();
    await withOrdersHeld(async () => {
      expect((await send('POST', `/api/v1/admin/orders/${id}/cancel`, 'admin')).status).toBe(202);
      const [row] = await auditRows('order_id = $1', [id]);
      expect(row).toMatchObject({ actor: admin, actor_role: 'admin', action: 'order.force_cancel', outcome: 'ok' });
      expect(row!.detail).toEqual({ via: 'console' });
      const cancel = await xminOf(`SELECT xmin::text FROM outbox WHERE message_id = $1`, [`${id}.order.cancel`]);
      expect(row!.xmin).toBe(cancel);
    });
    await until(async () => ((await readOrder(engine.core.pool, id))?.status === 'cancelled' ? true : undefined));
    expect((await send('POST', `/api/v1/admin/orders/${id}/cancel`, 'admin')).status).toBe(409);
    const rows = await auditRows('order_id = $1', [id]);
    expect(rows.map((r) => r.outcome)).toEqual(['ok', 'order_not_cancellable']);
  });

  it('records a force-cancel through the REST API with its reason', async () => {
    const id = await stuckOrder();
    await withOrdersHeld(async () => {
      const res = await send('POST', `/api/v1/orders/${id}/force-cancel`, 'admin', { reason: 'customer phoned' });
      expect(res.status).toBe(202);
      const [row] = await auditRows('order_id = $1', [id]);
      expect(row).toMatchObject({ action: 'order.force_cancel', outcome: 'ok' });
      expect(row!.detail).toEqual({ via: 'api', reason: 'customer phoned' });
      const cancel = await xminOf(`SELECT xmin::text FROM outbox WHERE message_id = $1`, [`${id}.order.cancel`]);
      expect(row!.xmin).toBe(cancel);
    });
  });

  it('records product, price, stock and coupon changes in their transactions, refusals included', async () => {
    const product = `audit-${run}`;
    const created = await send('POST', '/api/v1/products', 'admin', {
      id: product,
      name: 'Audited',
      price: '5.00',
      currency: 'USD',
      stock: 3,
    });
    expect(created.status).toBe(201);
    const productXmin = await xminOf(`SELECT xmin::text FROM products WHERE id = $1`, [product]);
    expect((await send('PATCH', `/api/v1/products/${product}`, 'admin', { price: '6.50' })).status).toBe(200);
    expect((await send('PUT', `/api/v1/products/${product}/stock`, 'admin', { on_hand: 9 })).status).toBe(200);
    const stockXmin = await xminOf(`SELECT xmin::text FROM stock WHERE product_id = $1`, [product]);
    expect((await send('POST', `/api/v1/products/${product}/stock`, 'admin', { quantity: -100 })).status).toBe(409);
    const rows = await auditRows('product_id = $1', [product]);
    expect(rows.map((r) => [r.action, r.outcome])).toEqual([
      ['product.create', 'ok'],
      ['product.reprice', 'ok'],
      ['stock.set', 'ok'],
      ['stock.add', 'stock_conflict'],
    ]);
    expect(rows[0]!.xmin).toBe(productXmin);
    expect(rows[1]!.detail).toMatchObject({ price: '6.50', previous: { price: '5.0000' } });
    expect(rows[2]!.xmin).toBe(stockXmin);
    const code = `AUDIT${run.toUpperCase()}`;
    const coupon = { code, kind: 'percent', percent_off: '10', redemptions_max: 3 };
    expect((await send('POST', '/api/v1/coupons', 'admin', coupon)).status).toBe(201);
    expect((await send('POST', '/api/v1/coupons', 'admin', coupon)).status).toBe(409);
    const coupons = await auditRows('target = $1', [`coupon:${code}`]);
    expect(coupons.map((r) => [r.action, r.outcome, r.actor])).toEqual([
      ['coupon.create', 'ok', admin],
      ['coupon.create', 'coupon_exists', admin],
    ]);
  });

  it('records a redrive, a login and a Bull Board action', async () => {
    const orderId = randomUUID();
    await engine.core.queues
      .get('inventory')!
      .add('inventory.reserve', messageFor(orderId, 'inventory.reserve', { items: [], ttl_ms: 1000 }), {
        jobId: `${orderId}.bad`,
      });
    await until(async () => {
      const found = await engine.core.pool.query(`SELECT 1 FROM dead_letters WHERE job_id = $1`, [`${orderId}.bad`]);
      return found.rowCount === 1 ? true : undefined;
    });
    expect((await send('POST', `/api/v1/admin/orders/${orderId}/redrive`, 'admin')).body.redriven).toBe(1);
    expect(await auditRows('order_id = $1', [orderId])).toEqual([
      expect.objectContaining({
        action: 'order.redrive',
        outcome: 'ok',
        detail: expect.objectContaining({ redriven: 1 }),
      }),
    ]);
    for (const role of ['admin', 'customer'] as const) {
      const login = await fetch(`${engine.url}/admin/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ token: tokens[role] }),
      });
      expect(login.status).toBe(role === 'admin' ? 200 : 403);
    }
    expect((await auditRows(`action = 'session.login' AND actor LIKE $1`, [`%-${run}`])).map((r) => r.outcome)).toEqual(
      ['ok', 'admin_required'],
    );
    expect((await send('PUT', '/admin/queues/api/queues/outbox-relay/resume', 'admin')).status).toBe(200);
    await until(async () =>
      (await auditRows(`action = 'queue.action' AND actor = $1`, [admin])).length ? true : undefined,
    );
    expect(await auditRows(`action = 'queue.action' AND actor = $1`, [admin])).toEqual([
      expect.objectContaining({ target: 'PUT /api/queues/outbox-relay/resume', outcome: 'ok' }),
    ]);
  });

  it('keeps the trail append-only', async () => {
    for (const statement of ['UPDATE audit_log SET outcome = $1', 'DELETE FROM audit_log WHERE outcome <> $1']) {
      const error = await engine.core.pool.query(statement, ['forged']).catch((e: { code?: string }) => e);
      expect((error as { code?: string }).code).toBe('42501');
    }
  });
});

describe('GET /api/v1/admin/audit', () => {
  const page = async (query: string) => getJson(`${engine.url}/api/v1/admin/audit?${query}`, as('admin'));

  it('filters by who, action, order, product and outcome, newest first, in cursor pages', async () => {
    const mine = auditPageSchema.parse((await page(`actor=${admin}&limit=200`)).body).entries;
    expect(mine.length).toBeGreaterThan(10);
    expect(mine.every((e) => e.actor === admin)).toBe(true);
    expect(mine.map((e) => Number(e.id))).toEqual([...mine.map((e) => Number(e.id))].sort((a, b) => b - a));
    const pages: string[] = [];
    let cursor: string | null = null;
    for (let i = 0; i < 50; i++) {
      const res = await page(`actor=${admin}&limit=4${cursor === null ? '' : `&cursor=${cursor}`}`);
      pages.push(...res.body.entries.map((e: { id: string }) => e.id));
      cursor = res.body.next_cursor as string | null;
      if (cursor === null) break;
    }
    expect(pages).toEqual(mine.map((e) => e.id));
    const product = `audit-${run}`;
    expect((await page(`product_id=${product}`)).body.entries).toHaveLength(4);
    expect((await page(`product_id=${product}&outcome=stock_conflict`)).body.entries).toHaveLength(1);
    const cancels = (await page(`actor=${admin}&action=order.force_cancel`)).body.entries as Array<{
      order_id: string;
    }>;
    expect(cancels).toHaveLength(3);
    expect((await page(`order_id=${cancels[0]!.order_id}`)).body.entries).toHaveLength(1);
    const future = encodeURIComponent(new Date(Date.now() + 60_000).toISOString());
    expect((await page(`actor=${admin}&after=${future}`)).body.entries).toEqual([]);
    expect((await page(`actor=${admin}&before=${future}`)).body.entries).toHaveLength(mine.length);
  });

  it.each([
    ['order_id=42', 'order_id'],
    ['action=Order.Cancel', 'action'],
    ['outcome=not%20ok', 'outcome'],
    ['actor=a%20b', 'actor'],
    ['after=yesterday', 'after'],
    ['after=2026-12-02T00:00:00Z&before=2026-12-01T00:00:00Z', 'before'],
    ['limit=0', 'limit'],
    ['cursor=eno', 'cursor'],
    ['who=me', 'who'],
  ])('refuses %s with a 400 naming %s', async (query, field) => {
    const res = await page(query);
    expect(res.status).toBe(400);
    expect(res.body.error).toMatchObject({ code: 'validation_failed', field });
  });
});

describe('the viewer role', () => {
  it('reads every admin page and JSON', async () => {
    const id = await stuckOrder();
    for (const path of [
      '/api/v1/admin/overview',
      '/api/v1/admin/machine',
      '/api/v1/admin/orders?status=pending',
      '/api/v1/admin/audit',
      `/api/v1/admin/orders/${id}/timeline`,
      `/api/v1/orders/${id}`,
      '/api/v1/ledger/validate',
      '/admin/queues/api/queues',
    ]) {
      expect((await send('GET', path, 'viewer')).status, path).toBe(200);
    }
    for (const path of ['/admin', '/admin/orders', '/admin/audit', '/admin/machine', '/admin/queues']) {
      const res = await send('GET', path, 'viewer');
      expect(res.status, path).toBe(200);
      expect(String(res.body), path).toMatch(
        path === '/admin/queues' ? /Order engine \(read-only\)/ : /data-role="viewer"/,
      );
    }
    expect((await send('GET', '/admin', 'customer')).status).toBe(403);
  });

  it('is refused every action with a 403, and nothing changes', async () => {
    const id = await stuckOrder();
    const product = await freshProduct(engine.core, 4);
    const actions: Array<[string, string, unknown?]> = [
      ['POST', `/api/v1/admin/orders/${id}/cancel`],
      ['POST', `/api/v1/admin/orders/${id}/redrive`],
      ['POST', `/api/v1/orders/${id}/force-cancel`, {}],
      ['POST', `/api/v1/orders/${id}/cancel`],
      ['POST', '/api/v1/products', { id: `v-${run}`, name: 'No', price: '1.00', currency: 'USD' }],
      ['PATCH', `/api/v1/products/${product}`, { price: '99.00' }],
      ['PUT', `/api/v1/products/${product}/stock`, { on_hand: 0 }],
      ['POST', `/api/v1/products/${product}/stock`, { quantity: 5 }],
      [
        'POST',
        '/api/v1/coupons',
        { code: `V${run.toUpperCase()}`, kind: 'percent', percent_off: '5', redemptions_max: 1 },
      ],
      [
        'POST',
        '/api/v1/orders',
        { user_id: viewer, currency: 'USD', items: [{ product_id: product, quantity: 1 }], shipping_address: address },
      ],
      ['PUT', '/admin/queues/api/queues/payments/pause'],
    ];
    for (const [method, path, body] of actions) {
      const res = await send(method, path, 'viewer', body);
      expect(res.status, `${method} ${path}`).toBe(403);
    }
    expect((await readOrder(engine.core.pool, id))?.state).toBe('charging');
    const stock = await getJson(`${engine.url}/api/v1/products/${product}`, as('viewer'));
    expect(stock.body).toMatchObject({ price: '10.00', stock: { on_hand: 4, available: 4 } });
    expect(await engine.core.queues.get('payments')!.isPaused()).toBe(false);
    expect(await auditRows('actor = $1', [viewer])).toEqual([]);
  });
});

describe('npm run token', () => {
  const token = (...args: string[]) =>
    spawnSync('npx', ['tsx', 'src/main/token.main.ts', ...args], { encoding: 'utf8', env: process.env });

  it.each([
    [['--user', 'ops', '--role', 'viewer'], 'viewer'],
    [['--user', 'ops', '--admin'], 'admin'],
    [['--user', 'ops', '--role', 'admin'], 'admin'],
    [['--user', 'ops'], 'customer'],
  ])('%j signs a %s token', (args, role) => {
    const result = token(...args);
    expect(result.status, result.stderr).toBe(0);
    const claims = decodeJwt(result.stdout.trim().split('\n').at(-1)!);
    expect(claims).toMatchObject({ sub: 'ops', role });
  });

  it.each([[['--user', 'ops', '--role', 'boss']], [['--user', 'ops', '--admin', '--role', 'viewer']]])(
    '%j is refused with exit 64',
    (args) => {
      const result = token(...args);
      expect(result.status).toBe(64);
      expect(result.stdout).toBe('');
    },
  );
});
