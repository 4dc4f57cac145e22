// The notifications consumer of the Kafka topic order-events: one "sent" record per confirmed
// order, however often Kafka delivers its event. It takes what a fetch brought, records the whole
// batch in one statement (inbox rows and notifications together), and only then resolves the
// batch's offsets: a crash mid-batch redelivers it, and the inbox rows make that change nothing.
import type { Consumer, EachBatchPayload, IHeaders, Kafka, KafkaMessage } from 'kafkajs';
import type { OrderEventType } from '../relay/event-envelope.ts';
import { isConnectionError, type Pool } from '../platform/db.ts';
import type { Logger } from '../platform/logger.ts';
import { outages } from '../platform/outage.ts';
import { recordEvents, type NotificationKind, type ReceivedEventWork } from './notifications.sql.ts';
import { parseEnvelope } from './order-event.parse.ts';

export interface NotificationsConsumerOptions {
  kafka: Kafka;
  pool: Pool;
  logger: Logger;
  topic: string;
  groupId?: string;
  /**
   * When the first start fails (Kafka or PostgreSQL away), keep trying in the background instead
   * of rejecting. A consumer that kafkajs gave up on is always replaced by a new one.
   */
  retryStart?: boolean;
}

export interface NotificationsConsumer {
  /** Finishes the message in hand, commits, leaves the group. */
  stop(): Promise<void>;
}

/** Which event asks for which notification. Every other type is recorded in the inbox only. */
export const notificationKindByEventType: Partial<Record<OrderEventType, NotificationKind>> = {
  'order.confirmed': 'order_confirmation',
};

// Explicit limits. While PostgreSQL is down, a batch is retried with backoff up to
// maxRetryTime; when the retries run out kafkajs restarts the consumer from the last committed
// offset, so the batch is tried again and never skipped. If kafkajs gives up instead (an error it
// deems non-retriable), this module replaces the consumer with a new one: it never stays down.
// A fetch waits up to maxWaitTimeInMs for minBytes of events: under load a batch then carries a
// few hundred milliseconds of events, one statement for all, instead of a statement per event or
// two; an idle topic answers after the wait, so a lone event is recorded within it.
const consumerLimits = {
  sessionTimeout: 30_000,
  rebalanceTimeout: 60_000,
  heartbeatInterval: 3_000,
  minBytes: 64 * 1024,
  maxWaitTimeInMs: 250,
  maxBytesPerPartition: 1_048_576,
  retry: { retries: 8, initialRetryTime: 300, maxRetryTime: 5_000, factor: 0.2, multiplier: 2 },
};
// Each partition in flight holds one pooled connection for its statement.
const partitionsConsumedConcurrently = 3;
/** Events per statement: a fetch may bring thousands after an outage. */
const eventsPerStatementMax = 500;
/** Backoff between a consumer that stopped for good and its replacement. */
const restartMsMin = 500;
const restartMsMax = 15_000;

function headerText(headers: IHeaders | undefined, name: string): string | null {
  const value = headers?.[name];
  const first = Array.isArray(value) ? value[0] : value;
  return first === undefined ? null : first.toString();
}

/** What the consumer does with each fetched batch: record it, then resolve its offsets. */
function batchHandler(pool: Pool, logger: Logger): (payload: EachBatchPayload) => Promise<void> {
  /** The events of a batch in offset order; a malformed message is logged and skipped. */
  function receivedOf(partition: number, messages: KafkaMessage[]): ReceivedEventWork[] {
    const events: ReceivedEventWork[] = [];
    for (const message of messages) {
      const parsed = parseEnvelope(message.value);
      if (!parsed.ok) {
        // Skipped, not retried: the same bytes would fail the same way forever and block the partition.
        logger.warn(
          { partition, offset: message.offset, reason: parsed.reason, detail: parsed.detail },
          'malformed order event skipped',
        );
        continue;
      }
      const { envelope } = parsed;
      const kind = notificationKindByEventType[envelope.type];
      events.push({
        eventId: envelope.id,
        orderId: envelope.order_id,
        type: envelope.type,
        correlationId: headerText(message.headers, 'correlation-id'),
        notify: kind === undefined ? null : { kind, payload: envelope.data },
      });
    }
    return events;
  }

  async function eachBatch({ batch, resolveOffset, heartbeat, isRunning, isStale }: EachBatchPayload): Promise<void> {
    for (let start = 0; start < batch.messages.length; start += eventsPerStatementMax) {
      if (!isRunning() || isStale()) return;
      const chunk = batch.messages.slice(start, start + eventsPerStatementMax);
      const events = receivedOf(batch.partition, chunk);
      try {
        const outcome = await recordEvents(pool, events);
        outages.up('postgres');
        logger.debug({ partition: batch.partition, events: events.length, ...outcome }, 'order events recorded');
      } catch (error) {
        // Thrown on so kafkajs retries: the offsets stay unresolved and the events come back.
        // PostgreSQL away: the outage log says so once; each attempt is a debug line only.
        const connectionLost = isConnectionError(error);
        if (connectionLost) outages.down('postgres', error);
        logger[connectionLost ? 'debug' : 'warn'](
          { partition: batch.partition, err: error },
          'order event not recorded; it will be redelivered',
        );
        throw error;
      }
      resolveOffset(chunk.at(-1)!.offset);
      await heartbeat();
    }
  }

  return eachBatch;
}

export async function startNotificationsConsumer(
  options: NotificationsConsumerOptions,
): Promise<NotificationsConsumer> {
  const { kafka, pool, topic, groupId = 'notifications' } = options;
  const logger = options.logger.child({ module: 'notifications', groupId, topic });
  const eachBatch = batchHandler(pool, logger);
  let current: Consumer | null = null;
  let stopped = false;
  let restartTimer: NodeJS.Timeout | null = null;
  let restartMs = restartMsMin;

  /** One consumer's life: connect, subscribe, run. Resolves once it runs; rejects if it could not start. */
  async function runOnce(): Promise<void> {
    const consumer = kafka.consumer({ groupId, allowAutoTopicCreation: false, ...consumerLimits });
    current = consumer;
    consumer.on(consumer.events.CRASH, ({ payload }) => {
      if (payload.restart) {
        // kafkajs restarts it by itself (a retriable error, PostgreSQL away): an outage, said once.
        outages.down('kafka consumer', payload.error);
        return;
      }
      // kafkajs gave up for good: this consumer no longer runs, so a new one takes its place.
      logger.error({ err: payload.error }, 'notifications consumer stopped; starting a new one');
      scheduleRestart(consumer, payload.error);
    });
    consumer.on(consumer.events.GROUP_JOIN, () => {
      outages.up('kafka consumer');
      restartMs = restartMsMin;
    });
    try {
      await consumer.connect();
      // A new group starts at the oldest retained event, so an order confirmed before this consumer
      // first ran still gets its notification; the inbox makes the re-read harmless.
      await consumer.subscribe({ topics: [topic], fromBeginning: true });
      await consumer.run({ autoCommit: true, eachBatchAutoResolve: false, partitionsConsumedConcurrently, eachBatch });
      // Readiness: the bench and the chaos runner wait for this line (after every restart too).
      logger.info('notifications consumer running');
    } catch (error) {
      await consumer.disconnect().catch(() => undefined);
      throw error;
    }
  }

  /** Replaces a consumer that stopped (or never started) after a bounded backoff, until stop(). */
  function scheduleRestart(failed: Consumer | null, error: unknown): void {
    outages.down('kafka consumer', error);
    if (stopped || restartTimer !== null) return;
    const waitMs = restartMs;
    restartMs = Math.min(restartMs * 2, restartMsMax);
    restartTimer = setTimeout(() => {
      restartTimer = null;
      void (async () => {
        await failed?.disconnect().catch(() => undefined);
        if (stopped) return;
        await runOnce().catch((next: unknown) => scheduleRestart(current, next));
      })();
    }, waitMs);
  }

  if (options.retryStart === true) {
    await runOnce().catch((error: unknown) => scheduleRestart(current, error));
  } else {
    await runOnce();
  }
  return {
    async stop() {
      stopped = true;
      if (restartTimer !== null) clearTimeout(restartTimer);
      await current?.disconnect();
    },
  };
}
