// Fresh Kafka topics per test and a reader that collects what reached them.
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { createKafka } from '../../src/platform/kafka.ts';
import type { Config } from '../../src/platform/config.ts';
import type { CoreDeps } from '../../src/main/core-deps.ts';
import { startNotificationsConsumer } from '../../src/notifications/notifications.consumer.ts';

export interface TopicMessage {
  key: string;
  eventId: string;
  correlationId: string;
  partition: number;
  offset: string;
  value: Record<string, unknown>;
}

export function kafkaOf(config: Config) {
  return createKafka({
    brokers: config.KAFKA_BROKERS,
    clientId: 'test',
    requestTimeoutMs: 10_000,
    connectionTimeoutMs: 3_000,
  });
}

export async function createTopic(config: Config, partitions = 6): Promise<string> {
  const topic = `test-events-${randomUUID().slice(0, 8)}`;
  const admin = kafkaOf(config).admin();
  await admin.connect();
  await admin.createTopics({
    topics: [{ topic, numPartitions: partitions, replicationFactor: 1 }],
    waitForLeaders: true,
  });
  await admin.disconnect();
  return topic;
}

/**
 * Deletes the topic and the outbox rows still waiting for it. The relay sends in id order and waits
 * out a missing topic as an outage (the producer never creates one), so a row left for a deleted
 * topic would hold back every later file's events in the shared database.
 */
export async function deleteTopic(config: Config, topic: string): Promise<void> {
  const admin = kafkaOf(config).admin();
  await admin.connect();
  await admin.deleteTopics({ topics: [topic] }).catch(() => undefined);
  await admin.disconnect();
  const db = new pg.Client({ connectionString: config.DATABASE_URL });
  await db.connect();
  try {
    await db.query(`DELETE FROM outbox WHERE destination = $1 AND published_at IS NULL`, [`kafka:${topic}`]);
  } finally {
    await db.end();
  }
}

/** Reads the topic from the beginning until `done(messages)` or the timeout. */
export async function readTopic(
  config: Config,
  topic: string,
  done: (messages: TopicMessage[]) => boolean,
  timeoutMs: number,
): Promise<TopicMessage[]> {
  const consumer = kafkaOf(config).consumer({ groupId: `reader-${randomUUID()}`, maxWaitTimeInMs: 100 });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  const messages: TopicMessage[] = [];
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`read ${messages.length} messages from ${topic} before the timeout`)),
        timeoutMs,
      );
      void consumer.run({
        eachMessage: async ({ message, partition }) => {
          messages.push({
            key: String(message.key),
            eventId: String(message.headers?.['event-id']),
            correlationId: String(message.headers?.['correlation-id']),
            partition,
            offset: message.offset,
            value: JSON.parse(String(message.value)) as Record<string, unknown>,
          });
          if (done(messages)) {
            clearTimeout(timer);
            resolve();
          }
        },
      });
    });
  } finally {
    await consumer.disconnect();
  }
  return messages;
}

/** The notifications consumer on a test topic, in a group of its own. */
export function startTestNotifications(core: CoreDeps, topic: string) {
  return startNotificationsConsumer({
    kafka: kafkaOf(core.config),
    pool: core.pool,
    logger: core.logger,
    topic,
    groupId: `notifications-${topic}`,
  });
}
