// The notifications consumer replaces itself when kafkajs gives up on it (a crash with
// restart: false), and keeps trying when Kafka is away at start. kafkajs is stood in for by a fake
// here because the point is this module's reaction to kafkajs's crash event, which a real broker
// cannot be made to raise on demand; the consumer against a real Kafka is in integration tests.
import { EventEmitter } from 'node:events';
import type { Kafka } from 'kafkajs';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { startNotificationsConsumer } from '../../src/notifications/notifications.consumer.ts';
import type { Pool } from '../../src/platform/db.ts';

const events = { CRASH: 'consumer.crash', GROUP_JOIN: 'consumer.group_join' };

class FakeConsumer extends EventEmitter {
  events = events;
  runs = 0;
  disconnected = false;
  constructor(private readonly failConnect: boolean) {
    super();
  }
  async connect() {
    if (this.failConnect) throw new Error('KafkaJSConnectionError: connect ECONNREFUSED');
  }
  async subscribe() {}
  async run() {
    this.runs += 1;
  }
  async disconnect() {
    this.disconnected = true;
  }
}

function fakeKafka(failFirstConnects: number): { kafka: Kafka; consumers: FakeConsumer[] } {
  const consumers: FakeConsumer[] = [];
  const kafka = {
    consumer: () => {
      const consumer = new FakeConsumer(consumers.length < failFirstConnects);
      consumers.push(consumer);
      return consumer;
    },
  } as unknown as Kafka;
  return { kafka, consumers };
}

async function until(check: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

const options = { pool: {} as Pool, logger: pino({ level: 'silent' }), topic: 't' };

describe('the notifications consumer restarts itself', () => {
  it('replaces a consumer that kafkajs gave up on', async () => {
    const { kafka, consumers } = fakeKafka(0);
    const running = await startNotificationsConsumer({ ...options, kafka });
    expect(consumers).toHaveLength(1);
    consumers[0]!.emit(events.CRASH, { payload: { error: new Error('non-retriable'), restart: false } });
    await until(() => consumers.length === 2 && consumers[1]!.runs === 1);
    expect(consumers[0]!.disconnected).toBe(true);
    await running.stop();
    expect(consumers[1]!.disconnected).toBe(true);
  });

  it('leaves a crash that kafkajs restarts by itself to kafkajs', async () => {
    const { kafka, consumers } = fakeKafka(0);
    const running = await startNotificationsConsumer({ ...options, kafka });
    consumers[0]!.emit(events.CRASH, { payload: { error: new Error('retriable'), restart: true } });
    await new Promise((resolve) => setTimeout(resolve, 800));
    expect(consumers).toHaveLength(1);
    await running.stop();
  });

  it('with retryStart, waits for Kafka at start instead of failing', async () => {
    const { kafka, consumers } = fakeKafka(2);
    const running = await startNotificationsConsumer({ ...options, kafka, retryStart: true });
    await until(() => consumers.length === 3 && consumers[2]!.runs === 1);
    await running.stop();
  });

  it('without retryStart, a failed start rejects', async () => {
    const { kafka } = fakeKafka(1);
    await expect(startNotificationsConsumer({ ...options, kafka })).rejects.toThrow(/ECONNREFUSED/);
  });
});
