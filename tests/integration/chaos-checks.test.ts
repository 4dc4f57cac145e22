// Each chaos invariant check can fail: the data is corrupted the way the check looks for (inside a
// transaction that is rolled back, so no other test sees it), and the check names the row.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, beforeEach, afterEach, describe, expect, it } from 'vitest';
import { checkEvents, checkNotifications } from '../../chaos/runner/check-kafka.ts';
import { checkLedger, checkMoney } from '../../chaos/runner/check-money.ts';
import { checkHistories, checkOnePerRequest, checkOrphans, checkStock } from '../../chaos/runner/check-orders.ts';
import type { CheckScope, InvariantResult } from '../../chaos/runner/check-types.ts';
import { ensureTopic } from '../../src/local-infra/kafka.local.ts';
import { createPool, type Client, type Pool } from '../../src/platform/db.ts';
import { testConfig } from '../support/test-config.ts';

const config = testConfig();
const topic = `chaos-checks-${randomUUID().slice(0, 8)}`;
let pool: Pool;
let db: Client;

beforeAll(async () => {
  pool = createPool({ connectionString: config.DATABASE_URL, poolSizeMax: 2, statementTimeoutMs: 30_000 });
  await ensureTopic(topic, 1, config.KAFKA_BROKERS);
});
afterAll(async () => {
  await pool.end();
});
beforeEach(async () => {
  db = await pool.connect();
  await db.query('BEGIN');
});
afterEach(async () => {
  await db.query('ROLLBACK');
  db.release();
});

function scopeOf(orderIds: string[], expectNotifications = true): CheckScope {
  return { orderIds, topic, brokers: config.KAFKA_BROKERS, api: null, expectNotifications, onePerRequest: true };
}

const input = (orderId: string) => ({
  orderId,
  userId: `u-${orderId.slice(0, 8)}`,
  currency: 'USD',
  items: [{ product_id: 'p', quantity: 1 }],
  subtotal: '10.00',
  couponCode: null,
  reservationTtlMs: 60_000,
  paymentDeadlineMs: 60_000,
});

async function order(status: string, state = status): Promise<string> {
  const id = randomUUID();
  await db.query(
    `INSERT INTO orders (id, user_id, currency, status, state, snapshot, version, items, subtotal, total,
                         shipping_address, correlation_id)
     VALUES ($1, $2, 'USD', $3, $4, $5, 1, '[]', 10, 10, '{}', 'test')`,
    [id, `u-${id.slice(0, 8)}`, status, state, JSON.stringify({ context: input(id) })],
  );
  return id;
}

function failing(result: InvariantResult, ...needles: string[]): void {
  expect(result.pass, JSON.stringify(result)).toBe(false);
  for (const needle of needles) expect(result.evidence.join('\n')).toContain(needle);
}

describe('the chaos invariant checks fail on corrupted data', () => {
  it('ledger: an unbalanced transaction', async () => {
    const id = await order('confirmed');
    const transaction = randomUUID();
    // Triggers off for this transaction only: the database itself refuses an unbalanced posting.
    await db.query(`SET LOCAL session_replication_role = replica`);
    await db.query(
      `INSERT INTO ledger_accounts (id, kind) VALUES ('customer:chaos-test', 'asset') ON CONFLICT DO NOTHING`,
    );
    await db.query(
      `INSERT INTO ledger_transactions (id, order_id, kind, description) VALUES ($1, $2, 'order.payment', 'corrupt')`,
      [transaction, id],
    );
    await db.query(
      `INSERT INTO ledger_entries (transaction_id, account_id, direction, amount, currency)
       VALUES ($1, 'customer:chaos-test', 'debit', 5, 'USD')`,
      [transaction],
    );
    failing(await checkLedger(db, scopeOf([id])), transaction, 'debits - credits = 5');
  });

  it('no oversell: stock held with no reservation behind it', async () => {
    const product = `chaos-check-${randomUUID().slice(0, 8)}`;
    await db.query(`INSERT INTO products (id, name, price, currency) VALUES ($1, 'x', 1, 'USD')`, [product]);
    await db.query(`INSERT INTO stock (product_id, on_hand, available, held) VALUES ($1, 5, 3, 2)`, [product]);
    failing(await checkStock(db), product, 'held reservations add up to 0');
  });

  it('no orphan: an order left pending, and a coupon kept by a failed order', async () => {
    const open = await order('pending', 'charging');
    const failed = await order('failed');
    const code = `CHK-${randomUUID().slice(0, 6).toUpperCase()}`;
    await db.query(
      `INSERT INTO coupons (code, kind, percent_off, redemptions_max, redemptions_count) VALUES ($1, 'percent', 10, 5, 1)`,
      [code],
    );
    await db.query(
      `INSERT INTO coupon_redemptions (order_id, coupon_code, status, discount, currency) VALUES ($1, $2, 'redeemed', 1, 'USD')`,
      [failed, code],
    );
    failing(
      await checkOrphans(db, scopeOf([open, failed])),
      `order ${open} is not final`,
      `order ${failed} (failed) keeps coupon ${code}`,
    );
  });

  it('no double charge and money agrees: two captures, a charge the ledger never saw', async () => {
    const twice = await order('confirmed');
    const unbooked = await order('confirmed');
    for (const [id, key] of [
      [twice, 'a'],
      [twice, 'b'],
      [unbooked, 'a'],
    ] as const) {
      await db.query(
        `INSERT INTO provider_charges (id, idempotency_key, kind, order_id, amount, currency, status)
         VALUES ($1, $2, 'charge', $3, 10, 'USD', 'succeeded')`,
        [`ch_${randomUUID()}`, `${id}.${key}`, id],
      );
    }
    await db.query(
      `INSERT INTO payments (idempotency_key, order_id, kind, status, amount, currency) VALUES ($1, $2, 'charge', 'succeeded', 10, 'USD')`,
      [`${unbooked}.charge`, unbooked],
    );
    const [doubleCharge, agrees] = await checkMoney(db, scopeOf([twice, unbooked]));
    failing(doubleCharge!, `order ${twice} (confirmed): 2 succeeded charges`);
    failing(agrees!, `order ${unbooked} (confirmed): provider 10.0000, payments 10.0000, ledger 0`);
  });

  it('events: a row never published, and a row marked published that is not on the topic', async () => {
    const id = await order('confirmed');
    await db.query(
      `INSERT INTO outbox (message_id, destination, key, type, payload, published_at)
       VALUES ($1, $3, $2, 'order.created', '{}', NULL), ($4, $3, $2, 'order.confirmed', '{}', now())`,
      [`${id}.event.order.created`, id, `kafka:${topic}`, `${id}.event.order.confirmed`],
    );
    failing(
      await checkEvents(db, scopeOf([id])),
      `event ${id}.event.order.created is not published`,
      `event ${id}.event.order.confirmed is not on the topic`,
    );
  });

  it('notifications: one event acted on twice, a confirmed order never notified', async () => {
    const [a, b, silent] = [await order('confirmed'), await order('confirmed'), await order('confirmed')];
    await db.query(
      `INSERT INTO notification_inbox (event_id, order_id, type) VALUES ('chaos-evt', $1, 'order.confirmed')`,
      [a],
    );
    for (const id of [a, b]) {
      await db.query(
        `INSERT INTO notifications (order_id, kind, event_id) VALUES ($1, 'order_confirmation', 'chaos-evt')`,
        [id],
      );
    }
    await db.query(
      `INSERT INTO outbox (message_id, destination, key, type, payload) VALUES ($1, $2, $3, 'order.confirmed', '{}')`,
      [`${silent}.event.order.confirmed`, `kafka:${topic}`, silent],
    );
    failing(
      await checkNotifications(db, scopeOf([a, b, silent])),
      'event chaos-evt was acted on 2 times',
      `order ${silent} was confirmed`,
    );
  });

  it('history: a transition the machine would not take', async () => {
    const id = await order('pending', 'charging');
    await db.query(
      `INSERT INTO order_transitions (order_id, seq, from_state, to_state, event_type, message_id, event)
       VALUES ($1, 1, 'pending', 'charging', 'order.placed', 'm', '{"type": "order.placed"}')`,
      [id],
    );
    failing(
      await checkHistories(db, scopeOf([id])),
      `order ${id}: seq 1 (order.placed) went to charging, the machine goes to reserving`,
    );
  });

  it('one order per request: a retried request that placed a second order', async () => {
    const first = await order('confirmed');
    const second = randomUUID();
    await db.query(
      `INSERT INTO orders (id, user_id, currency, status, state, snapshot, version, items, subtotal, total,
                           shipping_address, correlation_id)
       SELECT $2, user_id, currency, status, state, snapshot, 1, items, subtotal, total, shipping_address, correlation_id
         FROM orders WHERE id = $1`,
      [first, second],
    );
    failing(
      await checkOnePerRequest(db, scopeOf([first, second])),
      `request test placed 2 orders: ${[first, second].sort().join(', ')}`,
    );
  });
});
