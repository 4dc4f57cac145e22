// The notifications consumer of the Kafka topic order-events: one "sent" record per confirmed
// order, however often Kafka delivers its event. kafkajs commits an offset only after eachMessage
// returns, so a crash mid-message redelivers it; the inbox row, written in the same transaction
// as the notification, makes that redelivery change nothing.
import type { EachMessagePayload, IHeaders, Kafka } from 'kafkajs';
import type { OrderEventEnvelope, OrderEventType } from '../outbox/event-envelope.ts';
import { withTransaction, type Pool } from '../platform/db.ts';
import type { Logger } from '../platform/logger.ts';
import { claimEvent, recordNotification, type NotificationKind } from './notifications.sql.ts';
import { parseEnvelope } from './order-event.parse.ts';

export interface NotificationsConsumerOptions {
  kafka: Kafka;
  pool: Pool;
  logger: Logger;
  topic: string;
  groupId?: string;
  /**
   * Called when kafkajs gave up for good (a bug, or an error it deems non-retriable): the consumer
   * no longer runs, so the process should exit and be restarted rather than idle.
   */
  onFatal?: (error: Error) => void;
}

export interface NotificationsConsumer {
  /** Finishes the message in hand, commits, leaves the group. */
  stop(): Promise<void>;
}

/** Which event asks for which notification. Every other type is recorded in the inbox only. */
export const notificationKindByEventType: Partial<Record<OrderEventType, NotificationKind>> = {
  'order.confirmed': 'order_confirmation',
};

/** What one delivery changed: nothing (a duplicate), the inbox only, or the inbox and a notification. */
export type EventOutcome = 'duplicate' | 'recorded' | 'notified' | 'already_notified';

// Explicit limits. While PostgreSQL is down, a message is retried with backoff up to
// maxRetryTime; when the retries run out kafkajs restarts the consumer from the last committed
// offset, so the message is tried again and never skipped.
const consumerLimits = {
  sessionTimeout: 30_000,
  rebalanceTimeout: 60_000,
  heartbeatInterval: 3_000,
  maxWaitTimeInMs: 500,
  maxBytesPerPartition: 1_048_576,
  retry: { retries: 8, initialRetryTime: 300, maxRetryTime: 5_000, factor: 0.2, multiplier: 2 },
};
// Each partition in flight holds one pooled connection for its transaction.
const partitionsConsumedConcurrently = 3;

/** The effect of one event, in one transaction: claim its inbox row, then send what it asks for. */
export async function handleOrderEvent(
  pool: Pool,
  envelope: OrderEventEnvelope,
  correlationId: string | null,
): Promise<EventOutcome> {
  const kind = notificationKindByEventType[envelope.type];
  return withTransaction(pool, async (client) => {
    const claimed = await claimEvent(client, { eventId: envelope.id, orderId: envelope.order_id, type: envelope.type });
    if (!claimed) return 'duplicate';
    if (kind === undefined) return 'recorded';
    const sent = await recordNotification(client, {
      orderId: envelope.order_id,
      kind,
      eventId: envelope.id,
      correlationId,
      payload: envelope.data,
    });
    return sent ? 'notified' : 'already_notified';
  });
}

function headerText(headers: IHeaders | undefined, name: string): string | null {
  const value = headers?.[name];
  const first = Array.isArray(value) ? value[0] : value;
  return first === undefined ? null : first.toString();
}

export async function startNotificationsConsumer(
  options: NotificationsConsumerOptions,
): Promise<NotificationsConsumer> {
  const { kafka, pool, topic, groupId = 'notifications' } = options;
  const logger = options.logger.child({ module: 'notifications', groupId, topic });

  async function eachMessage({ partition, message }: EachMessagePayload): Promise<void> {
    const at = { partition, offset: message.offset };
    const parsed = parseEnvelope(message.value);
    if (!parsed.ok) {
      // Skipped, not retried: the same bytes would fail the same way forever and block the partition.
      logger.warn({ ...at, reason: parsed.reason, detail: parsed.detail }, 'malformed order event skipped');
      return;
    }
    const { envelope } = parsed;
    try {
      const outcome = await handleOrderEvent(pool, envelope, headerText(message.headers, 'correlation-id'));
      logger.debug({ ...at, eventId: envelope.id, type: envelope.type, outcome }, 'order event handled');
    } catch (error) {
      // Thrown on so kafkajs retries: the offset stays uncommitted and the event comes back.
      logger.warn({ ...at, eventId: envelope.id, err: error }, 'order event not recorded; it will be redelivered');
      throw error;
    }
  }

  const consumer = kafka.consumer({ groupId, allowAutoTopicCreation: false, ...consumerLimits });
  consumer.on(consumer.events.CRASH, ({ payload }) => {
    logger.error({ err: payload.error, restart: payload.restart }, 'notifications consumer crashed');
    if (!payload.restart) options.onFatal?.(payload.error);
  });
  try {
    await consumer.connect();
    // A new group starts at the oldest retained event, so an order confirmed before this consumer
    // first ran still gets its notification; the inbox makes the re-read harmless.
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    await consumer.run({ autoCommit: true, partitionsConsumedConcurrently, eachMessage });
  } catch (error) {
    await consumer.disconnect().catch(() => undefined);
    throw error;
  }
  logger.info('notifications consumer running');
  return { stop: () => consumer.disconnect() };
}
