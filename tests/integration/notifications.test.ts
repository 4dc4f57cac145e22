// The notifications consumer on the real Kafka broker and PostgreSQL: each test produces envelopes
// with the idempotent producer to a fresh topic, consumes them with a fresh group, and checks that
// whatever Kafka delivers (duplicates, garbage, a restart, lost commits, PostgreSQL away) every
// confirmed order has exactly one notification.
import { randomUUID } from 'node:crypto';
import type { Admin, Kafka, Message as KafkaMessage, Producer } from 'kafkajs';
import { pino } from 'pino';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { messageIdFor } from '../../queues/message.ts';
import {
  startNotificationsConsumer,
  type NotificationsConsumer,
} from '../../src/notifications/notifications.consumer.ts';
import { findNotifications } from '../../src/notifications/notifications.sql.ts';
import { parseEnvelope, type MalformedReason } from '../../src/notifications/order-event.parse.ts';
import { eventSchemaVersion, type OrderEventEnvelope, type OrderEventType } from '../../queues/order-events.ts';
import { createPool, sleep, type Pool } from '../../src/platform/db.ts';
import { createKafka, createProducer, producerAcks } from '../../src/platform/kafka.ts';
import { createLogger, type Logger } from '../../src/platform/logger.ts';
import { testConfig } from '../support/test-config.ts';

const config = testConfig();
const logger = createLogger('silent');
const partitions = 6; // as order-events
const waitMs = 30_000;

let pool: Pool;
let kafka: Kafka;
let admin: Admin;
let producer: Producer;
const consumers: NotificationsConsumer[] = [];
const created: Array<{ topic: string; groupId: string }> = [];

beforeAll(() => {
  pool = createPool({ connectionString: config.DATABASE_URL, poolSizeMax: 8, statementTimeoutMs: 10_000 });
  kafka = createKafka({
    brokers: config.KAFKA_BROKERS,
    clientId: 'notifications-test',
    requestTimeoutMs: 10_000,
    connectionTimeoutMs: 3_000,
  });
});

afterAll(async () => {
  await pool?.end();
});

async function freshTopic(): Promise<{ topic: string; groupId: string }> {
  const suffix = randomUUID().slice(0, 8);
  const names = { topic: `notifications-test-${suffix}`, groupId: `notifications-test-${suffix}` };
  await admin.createTopics({ topics: [{ topic: names.topic, numPartitions: partitions }], waitForLeaders: true });
  created.push(names);
  return names;
}

async function start(
  topic: string,
  groupId: string,
  db: Pool = pool,
  log: Logger = logger,
): Promise<NotificationsConsumer> {
  const consumer = await startNotificationsConsumer({ kafka, pool: db, logger: log, topic, groupId });
  consumers.push(consumer);
  return consumer;
}

async function stop(consumer: NotificationsConsumer): Promise<void> {
  consumers.splice(consumers.indexOf(consumer), 1);
  await consumer.stop();
}

function event(orderId: string, type: OrderEventType, data: Record<string, unknown> = {}): OrderEventEnvelope {
  return {
    id: messageIdFor(orderId, `event.${type}`),
    type,
    order_id: orderId,
    occurred_at: new Date().toISOString(),
    schema_version: eventSchemaVersion,
    data,
  };
}

/** As the relay writes it: key the order id, headers event-id and correlation-id. */
function kafkaMessage(envelope: OrderEventEnvelope): KafkaMessage {
  return {
    key: envelope.order_id,
    value: JSON.stringify(envelope),
    headers: { 'event-id': envelope.id, 'correlation-id': `corr-${envelope.order_id}` },
  };
}

/** A logger that keeps what the consumer says about problems, to check it was said. */
function capturingLogger(): { log: Logger; entries: Array<{ msg: string; reason?: string }> } {
  const entries: Array<{ msg: string; reason?: string }> = [];
  // debug: a failed attempt while PostgreSQL is away is a debug line (the outage log says it once).
  const log = pino({ level: 'debug' }, { write: (line: string) => void entries.push(JSON.parse(line)) });
  return { log, entries };
}

async function send(topic: string, messages: KafkaMessage[]): Promise<void> {
  await producer.send({ topic, acks: producerAcks, messages });
}

async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs = waitMs): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(100);
  }
}

async function committedOffsets(topic: string, groupId: string): Promise<Map<number, number>> {
  const [offsets] = await admin.fetchOffsets({ groupId, topics: [topic] });
  return new Map((offsets?.partitions ?? []).map((p) => [p.partition, Number(p.offset)]));
}

/** The group committed every partition's end: every message was handled, duplicates included. */
async function waitUntilCaughtUp(topic: string, groupId: string): Promise<void> {
  await waitFor(`group ${groupId} to commit the end of ${topic}`, async () => {
    const ends = await admin.fetchTopicOffsets(topic);
    const committed = await committedOffsets(topic, groupId);
    return ends.every((end) => Number(end.high) === 0 || committed.get(end.partition) === Number(end.high));
  });
}

async function countNotifications(orderIds: string[]): Promise<number> {
  const result = await pool.query<{ n: number }>(
    'SELECT count(*)::int AS n FROM notifications WHERE order_id = ANY($1::uuid[])',
    [orderIds],
  );
  return result.rows[0]!.n;
}

async function inboxOf(orderIds: string[]): Promise<Array<{ event_id: string; type: string }>> {
  const result = await pool.query<{ event_id: string; type: string }>(
    'SELECT event_id, type FROM notification_inbox WHERE order_id = ANY($1::uuid[]) ORDER BY event_id',
    [orderIds],
  );
  return result.rows;
}

/** Orders with more than one notification: must always be none. */
async function notifiedTwice(orderIds: string[]): Promise<string[]> {
  const result = await pool.query<{ order_id: string }>(
    `SELECT order_id FROM notifications WHERE order_id = ANY($1::uuid[])
      GROUP BY order_id, kind HAVING count(*) > 1`,
    [orderIds],
  );
  return result.rows.map((r) => r.order_id);
}

const lifecycle = (orderId: string) => [event(orderId, 'order.created'), event(orderId, 'order.confirmed')];
const newOrders = (n: number) => Array.from({ length: n }, () => randomUUID());

describe('parseEnvelope', () => {
  const good = event(randomUUID(), 'order.confirmed', { total: '10.00', currency: 'EUR' });
  const json = (value: unknown) => Buffer.from(JSON.stringify(value));
  const cases: Array<[string, Buffer | null, MalformedReason]> = [
    ['no value (a tombstone)', null, 'empty'],
    ['an empty value', Buffer.alloc(0), 'empty'],
    ['text that is not JSON', Buffer.from('order confirmed!'), 'not_json'],
    ['a JSON array', json([good]), 'not_an_object'],
    ['a JSON string', json('order.confirmed'), 'not_an_object'],
    ['another schema version', json({ ...good, schema_version: 2 }), 'unsupported_schema_version'],
    ['no schema version', json({ ...good, schema_version: undefined }), 'unsupported_schema_version'],
    ['an order id that is not a uuid', json({ ...good, order_id: 'order-1' }), 'invalid_envelope'],
    ['an empty id', json({ ...good, id: '' }), 'invalid_envelope'],
    ['a time that is not ISO 8601', json({ ...good, occurred_at: 'yesterday' }), 'invalid_envelope'],
    ['data that is not an object', json({ ...good, data: [1] }), 'invalid_envelope'],
    ['no data', json({ ...good, data: undefined }), 'invalid_envelope'],
    ['an unknown event type', json({ ...good, type: 'order.shipped' }), 'unknown_type'],
  ];
  it.each(cases)('refuses %s', (_name, value, reason) => {
    const parsed = parseEnvelope(value);
    expect(parsed).toMatchObject({ ok: false, reason });
  });

  it('reads a well-formed envelope back as it was written', () => {
    expect(parseEnvelope(json(good))).toEqual({ ok: true, envelope: good });
  });
});

describe('notifications consumer', () => {
  // A fresh admin and producer per test: a kafkajs client keeps refreshing the metadata of every
  // topic it has touched, and fails once one of them is deleted.
  beforeEach(async () => {
    admin = kafka.admin();
    await admin.connect();
    producer = createProducer(kafka);
    await producer.connect();
  });

  afterEach(async () => {
    for (const consumer of consumers.splice(0)) await consumer.stop();
    await producer.disconnect();
    for (const { topic, groupId } of created.splice(0)) {
      await admin.deleteGroups([groupId]).catch(() => undefined);
      await admin.deleteTopics({ topics: [topic] });
    }
    await admin.disconnect();
  });

  it('sends one confirmation for an order.confirmed delivered three times, and records other types in the inbox only', async () => {
    const { topic, groupId } = await freshTopic();
    const orderId = randomUUID();
    const amounts = { subtotal: '20.00', discount: '0.00', total: '20.00', currency: 'EUR' };
    const [createdEvent, confirmed] = [event(orderId, 'order.created'), event(orderId, 'order.confirmed', amounts)];
    const reserved = event(orderId, 'inventory.reserved');
    const posted = event(orderId, 'ledger.posted', amounts);
    // Another event that asks for the same notification (say, re-emitted with a new id) is not a second one.
    const confirmedAgain = { ...confirmed, id: `${confirmed.id}.again` };
    await send(
      topic,
      [createdEvent, confirmed, reserved, confirmed, posted, confirmed, confirmedAgain].map(kafkaMessage),
    );

    await start(topic, groupId);
    await waitFor('the confirmation', async () => (await countNotifications([orderId])) >= 1);
    await waitUntilCaughtUp(topic, groupId);

    const sent = await findNotifications(pool, orderId);
    expect(sent).toHaveLength(1);
    expect(sent[0]).toMatchObject({
      order_id: orderId,
      kind: 'order_confirmation',
      event_id: confirmed.id,
      correlation_id: `corr-${orderId}`,
      payload: amounts,
    });
    const inbox = await inboxOf([orderId]);
    const expected = [createdEvent, confirmed, confirmedAgain, reserved, posted];
    expect(inbox).toHaveLength(expected.length);
    expect(inbox).toEqual(expect.arrayContaining(expected.map((e) => ({ event_id: e.id, type: e.type }))));
  });

  it('sends 50 confirmations for 50 orders whose every event arrives twice', async () => {
    const { topic, groupId } = await freshTopic();
    const orderIds = newOrders(50);
    const messages = orderIds.flatMap(lifecycle).map(kafkaMessage);
    await send(topic, messages);
    await send(topic, messages);

    await start(topic, groupId);
    await waitFor('50 confirmations', async () => (await countNotifications(orderIds)) >= 50);
    await waitUntilCaughtUp(topic, groupId);

    expect(await countNotifications(orderIds)).toBe(50);
    expect(await notifiedTwice(orderIds)).toEqual([]);
    expect(await inboxOf(orderIds)).toHaveLength(100);
  });

  it('skips malformed messages between good ones without blocking their partition', async () => {
    const { topic, groupId } = await freshTopic();
    const [first, last, strange] = newOrders(3) as [string, string, string];
    const good = (orderId: string) => kafkaMessage(event(orderId, 'order.confirmed'));
    const malformed: KafkaMessage[] = [
      { key: strange, value: 'not json at all' },
      { key: strange, value: null },
      { key: strange, value: JSON.stringify({ ...event(strange, 'order.confirmed'), order_id: 'not-a-uuid' }) },
      { key: strange, value: JSON.stringify({ ...event(strange, 'order.confirmed'), schema_version: 2 }) },
      { key: strange, value: JSON.stringify({ ...event(strange, 'order.confirmed'), type: 'order.shipped' }) },
    ];
    // One partition, so the good message after the garbage is only read if the garbage was passed.
    await send(
      topic,
      [good(first), ...malformed, good(last)].map((m) => ({ ...m, partition: 0 })),
    );

    const { log, entries } = capturingLogger();
    await start(topic, groupId, pool, log);
    await waitFor('both confirmations', async () => (await countNotifications([first, last])) === 2);
    await waitUntilCaughtUp(topic, groupId);

    expect(await notifiedTwice([first, last])).toEqual([]);
    expect(await inboxOf([strange])).toEqual([]);
    expect(await countNotifications([strange])).toBe(0);
    expect(entries.filter((e) => e.msg === 'malformed order event skipped').map((e) => e.reason)).toEqual([
      'not_json',
      'empty',
      'invalid_envelope',
      'unsupported_schema_version',
      'unknown_type',
    ]);
  });

  it('stays exactly once per order across a stop mid-stream, a restart in the same group and lost commits', async () => {
    const { topic, groupId } = await freshTopic();
    const orderIds = newOrders(100);
    const [early, late] = [orderIds.slice(0, 50), orderIds.slice(50)];
    const earlyMessages = early.flatMap(lifecycle).map(kafkaMessage);
    await send(topic, earlyMessages);
    await send(topic, earlyMessages);

    const first = await start(topic, groupId);
    await waitFor('a first confirmation', async () => (await countNotifications(orderIds)) >= 1);
    await stop(first);
    // Written while no one consumes: the late orders, and the early ones once more.
    await send(topic, [...late.flatMap(lifecycle), ...early.flatMap(lifecycle)].map(kafkaMessage));

    const second = await start(topic, groupId);
    await waitFor('100 confirmations', async () => (await countNotifications(orderIds)) >= 100);
    await waitUntilCaughtUp(topic, groupId);
    expect(await countNotifications(orderIds)).toBe(100);
    expect(await notifiedTwice(orderIds)).toEqual([]);
    const sentBefore = await pool.query(
      'SELECT id, event_id, sent_at FROM notifications WHERE order_id = ANY($1::uuid[]) ORDER BY id',
      [orderIds],
    );

    // A crash that lost every offset commit: the group reads the whole topic again.
    await stop(second);
    await admin.resetOffsets({ groupId, topic, earliest: true });
    await start(topic, groupId);
    await waitUntilCaughtUp(topic, groupId);

    const sentAfter = await pool.query(
      'SELECT id, event_id, sent_at FROM notifications WHERE order_id = ANY($1::uuid[]) ORDER BY id',
      [orderIds],
    );
    expect(sentAfter.rows).toEqual(sentBefore.rows);
    expect(await inboxOf(orderIds)).toHaveLength(200);
  }, 120_000);

  it('does not move past an event while PostgreSQL is unreachable, and records it once it is back', async () => {
    const { topic, groupId } = await freshTopic();
    const orderIds = newOrders(5);
    await send(
      topic,
      orderIds.map((id) => kafkaMessage(event(id, 'order.confirmed'))),
    );
    // Nothing listens on port 1: every transaction fails to connect, as when PostgreSQL is down.
    const unreachable = createPool({
      connectionString: 'postgres://postgres@127.0.0.1:1/unreachable',
      poolSizeMax: 2,
      statementTimeoutMs: 1_000,
    });
    const { log, entries } = capturingLogger();
    const failures = () => entries.filter((e) => e.msg === 'order event not recorded; it will be redelivered');
    try {
      const blocked = await start(topic, groupId, unreachable, log);
      // Two failed attempts: kafkajs retried the event instead of moving past it.
      await waitFor('two failed attempts', async () => failures().length >= 2);
      await stop(blocked);
    } finally {
      await unreachable.end();
    }
    const committed = await committedOffsets(topic, groupId);
    expect([...committed.values()].every((offset) => offset <= 0)).toBe(true);
    expect(await countNotifications(orderIds)).toBe(0);

    await start(topic, groupId);
    await waitFor('5 confirmations', async () => (await countNotifications(orderIds)) === 5);
    await waitUntilCaughtUp(topic, groupId);
    expect(await notifiedTwice(orderIds)).toEqual([]);
  }, 90_000);
});
