// The admin session and the visualizer's JSON on the real engine: login and logout, refusals,
// the fleet and timeline answers (checked against their zod schemas and against
// order_transitions), force-cancel through the order service, redrive of an order's dead
// letters, and the metrics the API process adds (HTTP duration by route, orders created/finished).
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { orderMachine } from '../../machines/order.machine.ts';
import { machineResponseSchema, timelineResponseSchema } from '../../src/admin/admin.schemas.ts';
import { machineGraph } from '../../src/admin/machine.graph.ts';
import { orderHistory } from '../../src/orders/order.queries.ts';
import { signToken } from '../../src/platform/auth.ts';
import { address, freshProduct, postJson, startTestEngine, type TestEngine } from '../support/engine.ts';
import { messageFor } from '../support/harness.ts';

let engine: TestEngine;
let admin: string;

beforeAll(async () => {
  engine = await startTestEngine({ QUEUE_ATTEMPTS: '2', QUEUE_BACKOFF_MS: '10', ADMIN_STUCK_AFTER_MS: '1000' });
  admin = await signToken(engine.core.config, { userId: 'ops-admin', role: 'admin', ttlSeconds: 600 });
});
afterAll(async () => {
  await engine?.close();
});

const asAdmin = (extra: Record<string, string> = {}) => ({ Authorization: `Bearer ${admin}`, ...extra });

async function adminGet(path: string) {
  const res = await fetch(`${engine.url}${path}`, { headers: asAdmin() });
  return { status: res.status, body: (await res.json()) as Record<string, any> };
}

async function place(userId: string): Promise<string> {
  const product = await freshProduct(engine.core, 5);
  const res = await postJson(
    `${engine.url}/api/v1/orders`,
    { user_id: userId, currency: 'USD', items: [{ product_id: product, quantity: 1 }], shipping_address: address },
    { Prefer: 'wait=15' },
  );
  expect(res.status).toBe(201);
  return res.body.id as string;
}

describe('admin session', () => {
  it('logs in from the form, keeps the session in the cookie, and logs out', async () => {
    const login = await fetch(`${engine.url}/admin/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ token: admin, next: '/admin/queues' }),
      redirect: 'manual',
    });
    expect(login.status).toBe(303);
    expect(login.headers.get('location')).toBe('/admin/queues');
    const cookie = login.headers.get('set-cookie') ?? '';
    expect(cookie).toMatch(/^oe_admin_session=[^;]+; Path=\/; HttpOnly; SameSite=Strict; Max-Age=\d+$/);
    const session = cookie.split(';')[0]!;
    expect((await fetch(`${engine.url}/api/v1/admin/machine`, { headers: { cookie: session } })).status).toBe(200);
    const logout = await fetch(`${engine.url}/admin/logout`, { method: 'POST', redirect: 'manual' });
    expect(logout.headers.get('set-cookie')).toMatch(/^oe_admin_session=; .*Max-Age=0/);
  });

  it('refuses a bad token on the form, and never redirects a login off the admin pages', async () => {
    const bad = await fetch(`${engine.url}/admin/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ token: 'not-a-jwt', next: 'https://evil.example/' }),
      redirect: 'manual',
    });
    expect(bad.status).toBe(401);
    expect(bad.headers.get('set-cookie')).toBeNull();
    expect(await bad.text()).toContain('value="/admin"');
    const expired = await signToken(engine.core.config, { userId: 'ops-admin', role: 'admin', ttlSeconds: 1 });
    await new Promise((resolve) => setTimeout(resolve, 2_100));
    const late = await fetch(`${engine.url}/api/v1/admin/machine`, { headers: { Authorization: `Bearer ${expired}` } });
    expect(late.status).toBe(401);
    expect(((await late.json()) as { error: { code: string } }).error.code).toBe('token_expired');
  });
});

describe('visualizer JSON', () => {
  it('answers the fleet with every state of the machine', async () => {
    await place(`fleet-${randomUUID().slice(0, 8)}`);
    const res = await adminGet('/api/v1/admin/machine');
    expect(res.status).toBe(200);
    const body = machineResponseSchema.parse(res.body);
    const ids = machineGraph(orderMachine).states.map((s) => s.id);
    expect(body.machine.states.map((s) => s.id)).toEqual(ids);
    expect(body.fleet.states.map((s) => s.state)).toEqual(ids);
    expect(body.machine.states.find((s) => s.id === 'compensating.refunding')?.compensation).toBe(true);
  });

  it('answers a timeline that matches order_transitions, with the outbox rows behind each step', async () => {
    const id = await place(`test_decline_${randomUUID().slice(0, 8)}`);
    const res = await adminGet(`/api/v1/admin/orders/${id}/timeline`);
    expect(res.status).toBe(200);
    const timeline = timelineResponseSchema.parse(res.body);
    const stored = await orderHistory(engine.core.pool, id);
    expect(timeline.transitions.map((t) => [t.seq, t.from_state, t.to_state, t.event_type, t.message_id])).toEqual(
      stored.map((t) => [t.seq, t.from_state, t.to_state, t.event_type, t.message_id]),
    );
    expect(timeline.order).toMatchObject({ status: 'failed', failure_reason: 'payment_declined', cancellable: false });
    expect(timeline.transitions[0]!.sent.map((r) => r.type)).toContain('inventory.reserve');
    expect(timeline.transitions.filter((t) => t.kind === 'failure')).toHaveLength(1);
    expect(timeline.transitions.at(-1)).toMatchObject({ kind: 'final', to_state: 'failed' });
    expect(timeline.transitions.slice(0, -1).every((t) => t.time_in_state_ms !== null)).toBe(true);
  });

  it('refuses a malformed id with 400 naming the field, and an unknown order with 404', async () => {
    const malformed = await adminGet('/api/v1/admin/orders/not-a-uuid/timeline');
    expect(malformed).toMatchObject({ status: 400, body: { error: { code: 'validation_failed', field: 'id' } } });
    const unknown = await adminGet(`/api/v1/admin/orders/${randomUUID()}/timeline`);
    expect(unknown).toMatchObject({ status: 404, body: { error: { code: 'order_not_found' } } });
  });
});

describe('admin actions', () => {
  it('force-cancels through the order service, and refuses an order that can no longer be cancelled', async () => {
    const declined = await place(`test_decline_${randomUUID().slice(0, 8)}`);
    const refused = await fetch(`${engine.url}/api/v1/admin/orders/${declined}/cancel`, {
      method: 'POST',
      headers: asAdmin(),
    });
    expect(refused.status).toBe(409);
    const rows = await engine.core.pool.query(`SELECT count(*)::int AS n FROM outbox WHERE message_id = $1`, [
      `${declined}.order.cancel`,
    ]);
    expect(rows.rows[0].n).toBe(0);
  });

  it("redrives an order's dead letters", async () => {
    const orderId = randomUUID();
    // A reserve with no items is refused without retry: it lands in dead_letters.
    await engine.core.queues
      .get('inventory')!
      .add('inventory.reserve', messageFor(orderId, 'inventory.reserve', { items: [], ttl_ms: 1000 }), {
        jobId: `${orderId}.bad`,
      });
    for (let i = 0; i < 150; i++) {
      const n = await engine.core.pool.query(`SELECT 1 FROM dead_letters WHERE job_id = $1`, [`${orderId}.bad`]);
      if (n.rowCount === 1) break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const res = await fetch(`${engine.url}/api/v1/admin/orders/${orderId}/redrive`, {
      method: 'POST',
      headers: asAdmin(),
    });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ order_id: orderId, redriven: 1 });
  });
});

describe('API process metrics', () => {
  it('measures HTTP requests by route template and counts orders created and finished', async () => {
    await place(`metrics-${randomUUID().slice(0, 8)}`);
    const scrape = await (await fetch(`${engine.url}/metrics`)).text();
    expect(scrape).toMatch(
      /order_engine_http_request_duration_seconds_count\{method="POST",route="\/api\/v1\/orders",status="201"\} [1-9]/,
    );
    expect(scrape).toMatch(/route="\/api\/v1\/admin\/orders\/:id\/timeline"/);
    expect(scrape).toMatch(/order_engine_orders_created_total [1-9]/);
    expect(scrape).toMatch(/order_engine_orders_finished_total\{status="confirmed",reason="none"\} [1-9]/);
    expect(scrape).toMatch(/order_engine_orders_finished_total\{status="failed",reason="payment_declined"\} [1-9]/);
    expect(scrape).toMatch(/order_engine_payment_provider_calls_total\{operation="charge",outcome="succeeded"\} [1-9]/);
    // Completed jobs are dropped from Redis by default: the job-duration histogram counts them.
    expect(scrape).toMatch(/order_engine_queue_jobs\{queue="inventory",state="completed"\} 0/);
    expect(scrape).toMatch(/order_engine_job_duration_seconds_count\{queue="inventory",result="completed"\} [1-9]/);
    expect(scrape).toMatch(/order_engine_queue_jobs\{queue="outbox-relay",state="waiting"\} \d/);
  });
});
