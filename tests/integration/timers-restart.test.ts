// Issue 21, part 3: timers survive everything. Orders wait on each timer (a reservation's expiry, a
// payment deadline: outbox rows with a due_at that the sweeper hands to BullMQ when due). Every
// engine process is SIGKILLed and BullMQ's Redis (a private redis-server of this test) is flushed
// while they wait: some timers had been handed over already (the orders worker was dead), some fall
// due while the engine is down, some after it is back. Each order then expires or fails exactly
// once, never early, and at most one sweep interval (plus the job's trip) late. A timer whose state
// was left does nothing: withdrawn, it is never delivered; delivered anyway, the order ignores it.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPrivateRedis, type PrivateRedis } from '../../chaos/bench/bench-infra.ts';
import { checkInvariants, waitUntilFinal } from '../../chaos/invariants.ts';
import { placeOrder } from '../../src/orders/order.service.ts';
import { address, freshProduct, postJson } from '../support/engine.ts';
import { startEngineProcesses, waitFor, type EngineProcess } from '../support/engine-processes.ts';
import { useResilienceRig } from '../support/resilience-rig.ts';

const sweepIntervalMs = 1_000;
/**
 * The sweep that finds a due timer runs within one interval; a loaded machine may schedule it (and
 * the restarted process's first sweep, and its Redis connection) this much later.
 */
const schedulingSlackMs = 500;
/** A timer's trip after its hand-over: BullMQ, the orders worker, its transaction. */
const tripAllowanceMs = 1_500;
/**
 * Timers handed over before the crash, timers that fall due while the engine is down, and ones that
 * fall due once it is back: those wait twice as long as the first start took, and more, so that a
 * loaded machine's slow restart is over when they fall due.
 */
const handedOverMs = 3_000;
const dueWhileDownMs = 15_000;
const dueAfterRestartMs = (firstStartMs: number) => dueWhileDownMs + 2 * firstStartMs + 10_000;
const neverMs = 30 * 60_000;
const workerRoles = ['worker-orders', 'worker-inventory', 'worker-others'];

interface TimerGroup {
  name: string;
  timer: 'reservation.expired' | 'payment.deadline';
  reservationTtlMs: number;
  paymentDeadlineMs: number;
  status: 'expired' | 'failed';
  reason: string;
  fallsDue: 'handed over' | 'while down' | 'after restart';
}

/** An expiry group and a deadline group, each waiting on its timer; the other timer never falls due. */
function timerGroups(fallsDue: TimerGroup['fallsDue'], dueInMs: number): TimerGroup[] {
  const suffix = { 'handed over': 'handed', 'while down': 'down', 'after restart': 'after' }[fallsDue];
  return [
    {
      name: `expiry-${suffix}`,
      timer: 'reservation.expired',
      reservationTtlMs: dueInMs,
      paymentDeadlineMs: neverMs,
      status: 'expired',
      reason: 'reservation_expired',
      fallsDue,
    },
    {
      name: `deadline-${suffix}`,
      timer: 'payment.deadline',
      reservationTtlMs: neverMs,
      paymentDeadlineMs: dueInMs,
      status: 'failed',
      reason: 'payment_timeout',
      fallsDue,
    },
  ];
}
const ordersPerGroup = 5;

// Filled in by the first beforeAll, read by the rig's set-up that runs after it.
const coreOverrides: Record<string, string> = {};
let redis: PrivateRedis | undefined;
beforeAll(async () => {
  redis = await startPrivateRedis(6420);
  coreOverrides.REDIS_URL = redis.url;
}, 30_000);
afterAll(async () => {
  await redis?.stop();
});
const rig = useResilienceRig({ overrides: coreOverrides });

function engineEnv(): Record<string, string> {
  return {
    QUEUE_PREFIX: rig.core.config.QUEUE_PREFIX,
    KAFKA_TOPIC_ORDER_EVENTS: rig.topic,
    REDIS_URL: redis!.url,
    OUTBOX_SWEEP_INTERVAL_MS: String(sweepIntervalMs),
    // A silent provider's charge is retried far past every timer, so its orders wait in charging.
    QUEUE_ATTEMPTS: '100',
    QUEUE_BACKOFF_MS: '1000',
    // The production default: a job Redis lost is found again this long after its hand-over at the latest.
    OUTBOX_REDELIVER_AFTER_MS: '60000',
    // The orders placed through the API (their timers are withdrawn) fall due while the engine is down.
    RESERVATION_TTL_MS: String(dueWhileDownMs),
    PAYMENT_DEADLINE_MS: String(dueWhileDownMs),
  };
}

/** Starts every role; the workers log at info, so that their 'workers running' line says when they are back. */
async function startEngine() {
  const roleEnv = Object.fromEntries(workerRoles.map((role) => [role, { LOG_LEVEL: 'info' }]));
  return startEngineProcesses(engineEnv(), rig.processes, roleEnv);
}

/** When the last worker role of `processes` said it was running (its log's clock, epoch ms). */
async function workersRunningAt(processes: EngineProcess[]): Promise<number> {
  const times: number[] = [];
  await waitFor(
    'every worker role to log "workers running"',
    async () => {
      times.length = 0;
      for (const p of processes.filter((q) => workerRoles.includes(q.role))) {
        const line = p.output.find((l) => l.includes('"msg":"workers running"'));
        if (line !== undefined) times.push((JSON.parse(line) as { time: number }).time);
      }
      return times.length === workerRoles.length;
    },
    120_000,
  );
  return Math.max(...times);
}

async function killEverything(processes: EngineProcess[]): Promise<void> {
  await Promise.all(
    processes
      .filter((p) => p.child.exitCode === null && p.child.signalCode === null)
      .map(
        (p) =>
          new Promise<void>((resolve) => {
            p.child.once('exit', () => resolve());
            p.child.kill('SIGKILL');
          }),
      ),
  );
}

/** Places the timer orders through the orders service, as the API does, each group with its own timers. */
async function placeTimerOrders(product: string, groups: TimerGroup[]): Promise<Map<string, TimerGroup>> {
  const placed = new Map<string, TimerGroup>();
  for (const group of groups) {
    const deps = {
      pool: rig.core.pool,
      dispatcher: rig.core.dispatcher,
      topic: rig.topic,
      reservationTtlMs: group.reservationTtlMs,
      paymentDeadlineMs: group.paymentDeadlineMs,
    };
    for (let n = 0; n < ordersPerGroup; n++) {
      const result = await placeOrder(deps, {
        userId: `test_timeout_${group.name}-${n}`,
        currency: 'USD',
        items: [{ product_id: product, quantity: 1 }],
        couponCode: null,
        shippingAddress: address,
        correlationId: `timers-${group.name}-${n}`,
      });
      if (!result.ok || result.value === null) throw new Error(`placing a ${group.name} order failed`);
      placed.set(result.value.id, group);
    }
  }
  return placed;
}

/** Orders through the API that leave the states that wait: two confirm, two are cancelled while charging. */
async function placeOrdersThatLeave(apiUrl: string, product: string) {
  const place = async (userId: string) =>
    (
      await postJson(
        `${apiUrl}/api/v1/orders`,
        { user_id: userId, currency: 'USD', items: [{ product_id: product, quantity: 1 }], shipping_address: address },
        { Prefer: 'wait=20' },
      )
    ).body;
  const confirmed = [await place('timers-confirmed-0'), await place('timers-confirmed-1')];
  expect(confirmed.map((o) => o.status)).toEqual(['confirmed', 'confirmed']);
  const cancelled: string[] = [];
  for (const userId of ['test_timeout_cancelled-0', 'test_timeout_cancelled-1']) {
    const { id } = (await postJson(`${apiUrl}/api/v1/orders`, {
      user_id: userId,
      currency: 'USD',
      items: [{ product_id: product, quantity: 1 }],
      shipping_address: address,
    }).then((r) => r.body)) as { id: string };
    await waitFor(`${userId} in charging`, async () => (await stateOf(id)) === 'charging', 20_000);
    const cancel = await postJson(`${apiUrl}/api/v1/orders/${id}/cancel`, {}, { Prefer: 'wait=20' });
    expect(cancel.body.status).toBe('cancelled');
    cancelled.push(id);
  }
  return { confirmed: confirmed.map((o) => o.id as string), cancelled };
}

async function stateOf(id: string): Promise<string | undefined> {
  const row = await rig.core.pool.query<{ state: string }>('SELECT state FROM orders WHERE id = $1', [id]);
  return row.rows[0]?.state;
}

interface TimerRow {
  order_id: string;
  message_id: string;
  type: string;
  due_at: Date;
  swept_at: Date | null;
  processed_at: Date | null;
}

async function timerRows(orderIds: string[]): Promise<TimerRow[]> {
  const rows = await rig.core.pool.query<TimerRow>(
    `SELECT key AS order_id, message_id, type, due_at, swept_at, processed_at FROM outbox
      WHERE key = ANY($1::text[]) AND delay_ms > 0 ORDER BY key, type`,
    [orderIds],
  );
  return rows.rows;
}

async function dbNow(): Promise<number> {
  return (await rig.core.pool.query<{ now: Date }>('SELECT clock_timestamp() AS now')).rows[0]!.now.getTime();
}

interface Fired {
  order_id: string;
  event_type: string;
  from_state: string;
  created_at: Date;
  /** When the sweeper last handed the timer over (the sweep's transaction start). */
  handed_over_at: Date | null;
}

async function timerTransitions(orderIds: string[]): Promise<Fired[]> {
  const rows = await rig.core.pool.query<Fired>(
    `SELECT t.order_id::text, t.event_type, t.from_state, t.created_at, o.swept_at AS handed_over_at
       FROM order_transitions t JOIN outbox o ON o.message_id = t.message_id
      WHERE t.order_id = ANY($1::uuid[]) AND t.event_type IN ('reservation.expired', 'payment.deadline')`,
    [orderIds],
  );
  return rows.rows;
}

async function transitionCounts(orderIds: string[]): Promise<Record<string, number>> {
  const rows = await rig.core.pool.query<{ order_id: string; n: number }>(
    `SELECT order_id::text, count(*)::int AS n FROM order_transitions WHERE order_id = ANY($1::uuid[]) GROUP BY 1`,
    [orderIds],
  );
  return Object.fromEntries(rows.rows.map((r) => [r.order_id, r.n]));
}

async function inboxHas(messageIds: string[]): Promise<string[]> {
  const rows = await rig.core.pool.query<{ message_id: string }>(
    `SELECT message_id FROM inbox WHERE consumer = 'orders' AND message_id = ANY($1::text[])`,
    [messageIds],
  );
  return rows.rows.map((r) => r.message_id).sort();
}

const startedAt = Date.now();
/** A line per phase, so a slow run shows where it spends its time. */
const progress = (phase: string) =>
  console.log(`timers-restart: ${((Date.now() - startedAt) / 1_000).toFixed(1)} s ${phase}`);

const timerIdsOf = (orderIds: string[]) =>
  orderIds.flatMap((id) => [`${id}.payment.deadline`, `${id}.reservation.expired`]).sort();

interface Prepared {
  timed: Map<string, TimerGroup>;
  due: TimerRow[];
  leaving: { confirmed: string[]; cancelled: string[] };
  transitionsBefore: Record<string, number>;
}

/**
 * Orders that leave charging (through the API), then, with the orders worker SIGKILLed, orders whose
 * timers the sweeper hands over to nobody, and orders whose timers fall due later.
 */
async function prepare(apiUrl: string, firstStartMs: number): Promise<Prepared> {
  const product = await freshProduct(rig.core, 100, '12.00');
  const leaving = await placeOrdersThatLeave(apiUrl, product);
  const leavingIds = [...leaving.confirmed, ...leaving.cancelled];
  // Leaving charging withdrew their timers: processed, so the sweeper never hands them over.
  expect((await timerRows(leavingIds)).every((r) => r.processed_at !== null)).toBe(true);
  const transitionsBefore = await transitionCounts(leavingIds);
  // The inventory and payments workers step the orders into charging themselves; only a timer needs this one.
  await killEverything(rig.processes.filter((p) => p.role === 'worker-orders'));
  const timed = await placeTimerOrders(product, [
    ...timerGroups('handed over', handedOverMs),
    ...timerGroups('while down', dueWhileDownMs),
    ...timerGroups('after restart', dueAfterRestartMs(firstStartMs)),
  ]);
  const ids = [...timed.keys()];
  const handedOver = [...timed].filter(([, g]) => g.fallsDue === 'handed over').map(([id, g]) => `${id}.${g.timer}`);
  await waitFor(
    'every timer order in charging, and the first timers handed over to the dead orders worker',
    async () =>
      (await Promise.all(ids.map(stateOf))).every((s) => s === 'charging') &&
      (await timerRows(ids)).filter((r) => handedOver.includes(r.message_id) && r.swept_at !== null).length ===
        handedOver.length,
    60_000,
  );
  const due = await timerRows(ids);
  expect(due.length).toBe(2 * ids.length);
  const notHandedOver = due.filter((r) => !handedOver.includes(r.message_id));
  expect(Math.min(...notHandedOver.map((r) => r.due_at.getTime()))).toBeGreaterThan(await dbNow());
  return { timed, due, leaving, transitionsBefore };
}

/** SIGKILL, an empty Redis, and the wait until the timers due while down are due. */
async function crashAndWait(prepared: Prepared): Promise<void> {
  await killEverything(rig.processes);
  await redis!.client.flushall();
  expect(await redis!.client.dbsize()).toBe(0);
  progress('every engine process SIGKILLed, Redis flushed');
  // The cancelled orders' timers, un-withdrawn: as if handed over in the instant their order left
  // charging. The sweeper delivers them when due; the order must ignore them.
  await rig.core.pool.query(`UPDATE outbox SET processed_at = NULL WHERE message_id = ANY($1::text[])`, [
    timerIdsOf(prepared.leaving.cancelled),
  ]);
  const whileDown = [...prepared.timed].filter(([, g]) => g.fallsDue !== 'after restart').map(([id]) => id);
  const lastDue = Math.max(
    ...[...prepared.due.filter((r) => whileDown.includes(r.order_id)), ...(await timerRows(prepared.leaving.cancelled))]
      .map((r) => r.due_at.getTime())
      .filter((t) => t < Date.now() + neverMs / 2),
  );
  await waitFor('the timers due while down to fall due', async () => (await dbNow()) > lastDue + 500, 60_000);
  expect(await timerTransitions([...prepared.timed.keys()])).toEqual([]);
}

describe('timers across SIGKILL of every engine process and an empty Redis', () => {
  it('fires each timer exactly once, on time plus one sweep interval, and a timer left behind does nothing', async () => {
    const spawnedAt = Date.now();
    const first = await startEngine();
    const firstStartMs = (await workersRunningAt(rig.processes)) - spawnedAt;
    progress(`engine up in ${(firstStartMs / 1_000).toFixed(1)} s`);
    const prepared = await prepare(first.apiUrl, firstStartMs);
    const timedIds = [...prepared.timed.keys()];
    const leavingIds = [...prepared.leaving.confirmed, ...prepared.leaving.cancelled];
    progress(`${timedIds.length} orders wait on their timers, ${leavingIds.length} left`);
    await crashAndWait(prepared);

    progress('timers due; starting the engine again');
    const killed = rig.processes.length;
    await startEngine();
    const backAt = await workersRunningAt(rig.processes.slice(killed));
    progress('engine back');
    expect(await waitUntilFinal(rig.core.pool, timedIds, 90_000)).toEqual([]);
    progress('every timer order final');

    await expectFiredOnceOnTime(prepared.timed, prepared.due, backAt);
    await expectLeftStatesUntouched(prepared.leaving, prepared.transitionsBefore);
    const invariants = await checkInvariants(rig.core.pool, [...timedIds, ...leavingIds]);
    expect(invariants.violations).toEqual([]);
    // The relay, restarted on the empty Redis, published every order's events.
    await waitFor(
      'every event of these orders published to Kafka',
      async () =>
        (
          await rig.core.pool.query(
            `SELECT 1 FROM outbox WHERE key = ANY($1::text[]) AND destination LIKE 'kafka:%' AND published_at IS NULL`,
            [[...timedIds, ...leavingIds]],
          )
        ).rowCount === 0,
      30_000,
    );
  }, 240_000);
});

/** Each timer order: its own timer fired once, from charging, never early, late by one sweep at most. */
async function expectFiredOnceOnTime(timed: Map<string, TimerGroup>, due: TimerRow[], backAt: number) {
  const fired = await timerTransitions([...timed.keys()]);
  const statuses = await rig.core.pool.query<{ id: string; status: string; failure_reason: string }>(
    'SELECT id::text, status, failure_reason FROM orders WHERE id = ANY($1::uuid[])',
    [[...timed.keys()]],
  );
  const handOver: Record<string, number[]> = {};
  const trip: Record<string, number[]> = {};
  for (const [id, group] of timed) {
    const order = statuses.rows.find((r) => r.id === id);
    expect({ id, status: order?.status, reason: order?.failure_reason }).toEqual({
      id,
      status: group.status,
      reason: group.reason,
    });
    const mine = fired.filter((f) => f.order_id === id);
    expect(mine.map((f) => [f.event_type, f.from_state])).toEqual([[group.timer, 'charging']]);
    const dueAt = due.find((r) => r.order_id === id && r.type === group.timer)!.due_at.getTime();
    if (group.fallsDue !== 'after restart') expect(dueAt).toBeLessThan(backAt);
    else expect(dueAt, `${group.name}: its timers fell due before the restarted engine was up`).toBeGreaterThan(backAt);
    const firedAt = mine[0]!.created_at.getTime();
    const handedOverAt = mine[0]!.handed_over_at!.getTime();
    expect(handedOverAt).toBeGreaterThanOrEqual(dueAt);
    expect(firedAt).toBeGreaterThanOrEqual(handedOverAt);
    (handOver[group.name] ??= []).push(handedOverAt - Math.max(dueAt, backAt));
    (trip[group.name] ??= []).push(firedAt - handedOverAt);
  }
  console.log('timers-restart: ms from due (or from the engine back) to the hand-over, by group', handOver);
  console.log('timers-restart: ms from the hand-over to the order step, by group', trip);
  for (const values of Object.values(handOver)) {
    expect(Math.max(...values)).toBeLessThanOrEqual(sweepIntervalMs + schedulingSlackMs);
  }
  for (const values of Object.values(trip)) expect(Math.max(...values)).toBeLessThanOrEqual(tripAllowanceMs);
}

/** Withdrawn timers were never delivered; the un-withdrawn ones were delivered and changed nothing. */
async function expectLeftStatesUntouched(
  leaving: { confirmed: string[]; cancelled: string[] },
  countsBefore: Record<string, number>,
) {
  const cancelledTimers = timerIdsOf(leaving.cancelled);
  await waitFor(
    'the un-withdrawn timers to be delivered',
    async () => (await inboxHas(cancelledTimers)).length === cancelledTimers.length,
    30_000,
  );
  expect(await inboxHas(timerIdsOf(leaving.confirmed))).toEqual([]);
  expect(await transitionCounts([...leaving.confirmed, ...leaving.cancelled])).toEqual(countsBefore);
  const statuses = await rig.core.pool.query<{ status: string }>(
    'SELECT status FROM orders WHERE id = ANY($1::uuid[]) ORDER BY status',
    [[...leaving.confirmed, ...leaving.cancelled]],
  );
  expect(statuses.rows.map((r) => r.status)).toEqual(['cancelled', 'cancelled', 'confirmed', 'confirmed']);
}
