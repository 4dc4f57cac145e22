// The operator's console on the real engine, in a database of its own so every count is exact:
// the fleet holds one order in `charging` and shows 0 everywhere else (the double count of
// `pending` is gone); the orders list, newest first, with each filter, the search, cursor pages
// and a 400 naming each bad parameter; one order's complete view (its fields, the job it waits
// for with attempts, last error, next attempt and Bull Board link, its Kafka events); the landing
// page's overview (invariants, stuck orders, dead letters, parked rows).
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { orderMachine } from '../../machines/order.machine.ts';
import { timelineResponseSchema } from '../../src/admin/admin.schemas.ts';
import { orderListResponseSchema, overviewResponseSchema } from '../../src/admin/console.schemas.ts';
import { machineGraph } from '../../src/admin/machine.graph.ts';
import { readOrder } from '../../src/orders/order.sql.ts';
import { signToken } from '../../src/platform/auth.ts';
import { getJson, placeOne, startTestEngine, type TestEngine } from '../support/engine.ts';
import { freshDatabase } from '../support/database.ts';
import { messageFor, until } from '../support/harness.ts';

let engine: TestEngine;
const run = randomUUID().slice(0, 6);
const alice = `alice-${run}`;
const placed: Record<'stuck' | 'first' | 'second' | 'declined', string> = {
  stuck: '',
  first: '',
  second: '',
  declined: '',
};

beforeAll(async () => {
  const url = await freshDatabase('console');
  // A test_timeout charge fails transiently on every attempt; with many attempts far apart and a
  // distant payment deadline, that order stays in charging (and is stuck after a second).
  engine = await startTestEngine({
    DATABASE_URL: url,
    ADMIN_STUCK_AFTER_MS: '1000',
    INVARIANT_CHECK_INTERVAL_MS: '1000',
    PAYMENT_DEADLINE_MS: '600000',
    QUEUE_ATTEMPTS: '50',
    QUEUE_BACKOFF_MS: '4000',
  });
}, 120_000);
afterAll(async () => {
  await engine?.close();
});

const list = async (query: string) => getJson(`${engine.url}/api/v1/admin/orders?${query}`);

describe('the fleet', () => {
  it('holds one order in charging and shows 0 in every other state', async () => {
    placed.stuck = await placeOne(engine, `test_timeout_${run}`, 0, `corr-stuck-${run}`);
    await until(async () =>
      (await readOrder(engine.core.pool, placed.stuck))?.state === 'charging' ? true : undefined,
    );
    const inCharging = Date.now();
    // The periodic check's counts by status include `pending` (this order's status): wait for a
    // check made after the order reached charging, so the old double count would show.
    const fleet = await until(async () => {
      const res = await getJson(`${engine.url}/api/v1/admin/machine`);
      const at = res.body.fleet.final_counts_at as string | null;
      return at !== null && Date.parse(at) > inCharging ? res.body.fleet : undefined;
    });
    const counts = Object.fromEntries(
      (fleet.states as Array<{ state: string; count: number }>).map((s) => [s.state, s.count]),
    );
    expect(Object.keys(counts).sort()).toEqual(
      machineGraph(orderMachine)
        .states.map((s) => s.id)
        .sort(),
    );
    expect(counts.charging).toBe(1);
    for (const [state, count] of Object.entries(counts)) if (state !== 'charging') expect(count, state).toBe(0);
  });
});

describe('the orders list', () => {
  beforeAll(async () => {
    placed.first = await placeOne(engine, alice, 15, `corr-first-${run}`);
    placed.second = await placeOne(engine, alice, 15);
    placed.declined = await placeOne(engine, `test_decline_${run}`, 15);
  });

  it('lists every order newest first, with state, age in state and total', async () => {
    const res = await list('');
    expect(res.status).toBe(200);
    const page = orderListResponseSchema.parse(res.body);
    expect(page.orders.map((o) => o.id)).toEqual([placed.declined, placed.second, placed.first, placed.stuck]);
    expect(page.orders[0]).toMatchObject({ status: 'failed', state: 'failed', failure_reason: 'payment_declined' });
    expect(page.orders[3]).toMatchObject({ status: 'pending', state: 'charging', total: '10.00', currency: 'USD' });
    expect(page.orders[3]!.in_state_seconds).toBeGreaterThan(0);
    expect(page.next_cursor).toBeNull();
  });

  it.each([
    ['status=confirmed', ['second', 'first']],
    ['status=pending', ['stuck']],
    ['state=charging', ['stuck']],
    ['state=confirmed', ['second', 'first']],
    ['state=compensating', []],
    [`user_id=${alice}`, ['second', 'first']],
    ['failure_reason=payment_declined', ['declined']],
    ['status=failed&failure_reason=payment_declined', ['declined']],
    [`q=corr-first-${run}`, ['first']],
    [`q=${alice}`, ['second', 'first']],
    ['created_after=2000-01-01T00:00:00Z&created_before=2001-01-01T00:00:00Z', []],
  ])('filters by %s', async (query, expected) => {
    const res = await list(query);
    expect(res.status).toBe(200);
    expect(res.body.orders.map((o: { id: string }) => o.id)).toEqual(
      expected.map((name) => placed[name as keyof typeof placed]),
    );
  });

  it('finds an order by its id, and takes blank parameters as absent', async () => {
    expect((await list(`q=${placed.declined}`)).body.orders.map((o: { id: string }) => o.id)).toEqual([
      placed.declined,
    ]);
    expect((await list('status=&state=&user_id=')).body.orders).toHaveLength(4);
  });

  it('filters by creation time around one order', async () => {
    const first = (await readOrder(engine.core.pool, placed.first))!;
    const after = encodeURIComponent(first.created_at.toISOString());
    const before = encodeURIComponent(new Date(first.created_at.getTime() + 1).toISOString());
    const res = await list(`created_after=${after}&created_before=${before}`);
    expect(res.body.orders.map((o: { id: string }) => o.id)).toEqual([placed.first]);
  });

  it('pages with a cursor, never repeating or skipping an order', async () => {
    const seen: string[] = [];
    let cursor: string | null = null;
    for (let page = 0; page < 5; page++) {
      const res = await list(`limit=3${cursor === null ? '' : `&cursor=${cursor}`}`);
      expect(res.status).toBe(200);
      seen.push(...res.body.orders.map((o: { id: string }) => o.id));
      cursor = res.body.next_cursor as string | null;
      if (cursor === null) break;
    }
    expect(seen).toEqual([placed.declined, placed.second, placed.first, placed.stuck]);
  });

  it.each([
    ['status=lost', 'status'],
    ['state=nowhere', 'state'],
    ['user_id=not%20a%20user', 'user_id'],
    ['failure_reason=Bad-Reason', 'failure_reason'],
    ['created_after=yesterday', 'created_after'],
    ['created_after=2026-12-02T00:00:00Z&created_before=2026-12-01T00:00:00Z', 'created_before'],
    ['limit=0', 'limit'],
    ['limit=100000', 'limit'],
    ['cursor=bm90LWEtY3Vyc29y', 'cursor'],
    ['cursor=***', 'cursor'],
    ['q=%27%3B%20drop', 'q'],
    ['status=failed&status=confirmed', 'status'],
    ['sort=asc', 'sort'],
  ])('refuses %s with a 400 naming %s', async (query, field) => {
    const res = await list(query);
    expect(res.status).toBe(400);
    expect(res.body.error).toMatchObject({ code: 'validation_failed', field });
  });
});

describe("one order's complete view", () => {
  it('shows the order, the job it waits for with its Bull Board link, and its Kafka events', async () => {
    const chargeId = `${placed.stuck}.payment.charge`;
    const view = await until(async () => {
      const res = await getJson(`${engine.url}/api/v1/admin/orders/${placed.stuck}/timeline`);
      const parsed = timelineResponseSchema.parse(res.body);
      const job = parsed.waiting_for.find((w) => w.message_id.startsWith(chargeId))?.job;
      return job && job.attempts_made >= 1 && job.failed_reason !== null ? parsed : undefined;
    }, 20_000);
    expect(view.order).toMatchObject({
      user_id: `test_timeout_${run}`,
      currency: 'USD',
      subtotal: '10.00',
      discount: '0.00',
      total: '10.00',
      coupon_code: null,
      correlation_id: `corr-stuck-${run}`,
      finalized_at: null,
      cancellable: true,
    });
    expect(view.order.items).toEqual([{ product_id: expect.any(String), quantity: 1, unit_price: '10.00' }]);
    expect(view.order.shipping_address).toMatchObject({ city: 'London', country: 'GB' });
    const charge = view.waiting_for.find((w) => w.message_id.startsWith(chargeId))!;
    expect(charge.job).toMatchObject({ queue: 'payments', attempts_max: 50 });
    expect(charge.job!.board_url).toBe(`/admin/queues/queue/payments/${encodeURIComponent(charge.job!.id)}`);
    if (charge.job!.state === 'delayed') expect(Date.parse(charge.job!.next_attempt_at!)).toBeGreaterThan(Date.now());
    else expect(charge.job!.next_attempt_at).toBeNull();
    const board = await fetch(`${engine.url}${charge.job!.board_url}`, {
      headers: { Authorization: `Bearer ${await adminToken()}` },
    });
    expect(board.status).toBe(200);
    expect(await board.text()).not.toContain('fonts.googleapis.com');
    expect(view.events.map((e) => e.type)).toContain('order.created');
    expect(view.events.every((e) => !e.published && e.topic === engine.core.config.KAFKA_TOPIC_ORDER_EVENTS)).toBe(
      true,
    );
  });

  it('says which events the relay published', async () => {
    await engine.core.pool.query(`UPDATE outbox SET dispatched_at = now() WHERE message_id = $1`, [
      `${placed.first}.event.order.created`,
    ]);
    const res = await getJson(`${engine.url}/api/v1/admin/orders/${placed.first}/timeline`);
    const events = timelineResponseSchema.parse(res.body).events;
    expect(events.find((e) => e.type === 'order.created')).toMatchObject({ published: true });
    expect(events.map((e) => e.type)).toContain('order.confirmed');
    expect(events.filter((e) => e.published)).toHaveLength(1);
  });
});

const adminToken = () => signToken(engine.core.config, { userId: 'ops-console', role: 'admin', ttlSeconds: 600 });

describe('the landing page', () => {
  it('shows the invariants, the stuck order, a dead letter and a parked row, each linked', async () => {
    const lost = randomUUID();
    // A reserve with no items is refused without retry: it lands in dead_letters.
    await engine.core.queues
      .get('inventory')!
      .add('inventory.reserve', messageFor(lost, 'inventory.reserve', { items: [], ttl_ms: 1000 }), {
        jobId: `${lost}.inventory.reserve`,
      });
    await engine.core.pool.query(
      `INSERT INTO outbox (message_id, destination, key, type, payload, attempts, last_error, parked_at)
       VALUES ($1, 'kafka:order-events', $2, 'order.confirmed', '{}', 5, 'message too large', now())`,
      [`${placed.first}.parked-by-test`, placed.first],
    );
    const body = await until(async () => {
      const res = await getJson(`${engine.url}/api/v1/admin/overview`);
      const parsed = overviewResponseSchema.parse(res.body);
      return parsed.dead_letters.recent.length > 0 && parsed.dead_letters.by_queue.length > 0 ? parsed : undefined;
    });
    expect(body.fleet).toMatchObject({ in_flight: 1, states: [{ state: 'charging', count: 1 }] });
    expect(body.fleet.by_status).toMatchObject({ pending: 1, confirmed: 2, failed: 1 });
    expect(body.invariants.all_hold).toBe(true);
    expect(body.invariants.checks.map((c) => c.invariant)).toContain('ledger_balanced');
    expect(Date.now() - Date.parse(body.invariants.checked_at!)).toBeLessThan(10_000);
    expect(body.stuck.orders.map((s) => s.id)).toEqual([placed.stuck]);
    expect(body.dead_letters.recent[0]).toMatchObject({
      queue: 'inventory',
      order_id: lost,
      board_url: `/admin/queues/queue/inventory/${encodeURIComponent(`${lost}.inventory.reserve`)}`,
    });
    expect(body.dead_letters.by_queue).toEqual([{ queue: 'inventory', count: 1 }]);
    expect(body.parked.rows).toEqual([
      expect.objectContaining({ order_id: placed.first, type: 'order.confirmed', last_error: 'message too large' }),
    ]);
    const page = await fetch(`${engine.url}/admin`, { headers: { Authorization: `Bearer ${await adminToken()}` } });
    expect(page.status).toBe(200);
    const html = await page.text();
    for (const id of ['fleet-card', 'invariants-card', 'stuck-card', 'dead-card', 'parked-card'])
      expect(html).toContain(`id="${id}"`);
  });
});
