// The outbox relay to Kafka: claim the oldest unpublished rows of the partitions no other relay
// holds, publish them with the idempotent producer, and mark them published in the transaction
// that claimed them, after the broker acknowledged. A crash between publish and mark publishes the
// batch again (a duplicate, which consumers drop by event id); it never loses one. While Kafka is
// unreachable the rows wait, and the relay backs off within a bound. The parts: the Kafka sender
// (producer, link state, backoff), a batch (claim, publish, mark; isolate a poison row), the run.
import type { Message as KafkaMessage, Producer } from 'kafkajs';
import { sleep, withTransaction, type Client, type Pool } from '../platform/db.ts';
import type { Logger } from '../platform/logger.ts';
import type { OutboxRow } from '../messaging/outbox.sql.ts';
import { claimKafkaBatch, markPublished, recordPublishFailure } from './relay.sql.ts';
import { producerAcks } from '../platform/kafka.ts';
import { outages } from '../platform/outage.ts';

export interface RelayOptions {
  partitions: number;
  batchSizeMax: number;
  backoffMsMin: number;
  backoffMsMax: number;
  publishAttemptsMax: number;
  /** Fault injection for the chaos tests: a pause between the broker's ack and the mark. */
  pauseAfterPublishMs: number;
}

export type KafkaLink = 'ok' | 'down' | 'unknown';

export interface RelayRun {
  published: number;
  parked: number;
  /** Every partition was busy (other relays hold them) or the relay is backing off. */
  skipped: boolean;
}

export interface Relay {
  /** Drains the partitions it can take until they are empty or a batch fails. */
  run(): Promise<RelayRun>;
  kafkaLink(): KafkaLink;
  close(): Promise<void>;
}

const outageErrorNames = new Set([
  'KafkaJSConnectionError',
  'KafkaJSConnectionClosedError',
  'KafkaJSRequestTimeoutError',
  'KafkaJSBrokerNotFound',
  'KafkaJSMetadataNotLoaded',
  'KafkaJSLockTimeout',
  'KafkaJSNumberOfRetriesExceeded',
]);

// The broker no longer knows this idempotent producer's id or sequence (a broker restart, an
// expired producer id): the producer's state is lost, not the rows' content. A new producer, with
// a new id, sends them again.
const producerStateErrorTypes = new Set([
  'OUT_OF_ORDER_SEQUENCE_NUMBER',
  'UNKNOWN_PRODUCER_ID',
  'INVALID_PRODUCER_EPOCH',
  'INVALID_PRODUCER_ID_MAPPING',
  'PRODUCER_FENCED',
]);

type KafkaErrorChain = {
  name?: string;
  type?: string;
  retriable?: boolean;
  cause?: unknown;
  originalError?: unknown;
  errors?: unknown[];
};

function someInChain(error: unknown, test: (e: KafkaErrorChain) => boolean): boolean {
  for (let e = error as KafkaErrorChain | undefined; e; e = (e.originalError ?? e.cause) as KafkaErrorChain) {
    if (test(e)) return true;
    // sendBatch may reject with an aggregate of per-broker errors.
    if (Array.isArray(e.errors) && e.errors.some((inner) => someInChain(inner, test))) return true;
  }
  return false;
}

export function isProducerStateLost(error: unknown): boolean {
  return someInChain(error, (e) => e.type !== undefined && producerStateErrorTypes.has(e.type));
}

/** An outage (the broker is away, a leader moves, the producer's state is lost) is waited out; anything else may be a poison row. */
export function isOutage(error: unknown): boolean {
  return (
    isProducerStateLost(error) ||
    someInChain(error, (e) => e.retriable === true || (e.name !== undefined && outageErrorNames.has(e.name)))
  );
}

export function kafkaMessageOf(row: OutboxRow): { topic: string; message: KafkaMessage } {
  return {
    topic: row.destination.slice('kafka:'.length),
    message: { key: row.key, value: JSON.stringify(row.payload), headers: row.headers },
  };
}

/** The producer and the link's state, shared by the batches of one relay. */
interface KafkaSender {
  publish(rows: OutboxRow[]): Promise<void>;
  /** The broker is away: drop the connection (and the producer, if its state is lost) and back off. */
  outage(error: unknown): void;
  /** A send reached the broker: Kafka is back. */
  reached(): void;
  backingOff(): boolean;
  link(): KafkaLink;
  close(): Promise<void>;
}

function createKafkaSender(
  newProducer: () => Producer,
  logger: Logger,
  options: Pick<RelayOptions, 'backoffMsMin' | 'backoffMsMax'>,
): KafkaSender {
  let producer = newProducer();
  let connected = false;
  let link: KafkaLink = 'unknown';
  let backoffMs = 0;
  let backoffUntil = 0;

  let connecting: Promise<void> | null = null;
  // Partitions run concurrently on one producer: one of them (re)connects, the others wait for it,
  // so no partition's reconnect cuts another's send short.
  async function ensureConnected(): Promise<void> {
    if (connected) return;
    connecting ??= (async () => {
      // After an outage the old connection and producer id may be dead: start clean.
      await producer.disconnect().catch(() => undefined);
      await producer.connect();
      connected = true;
    })().finally(() => {
      connecting = null;
    });
    await connecting;
  }

  return {
    async publish(rows) {
      await ensureConnected();
      const byTopic = new Map<string, KafkaMessage[]>();
      for (const row of rows) {
        const { topic, message } = kafkaMessageOf(row);
        byTopic.set(topic, [...(byTopic.get(topic) ?? []), message]);
      }
      await producer.sendBatch({
        acks: producerAcks,
        topicMessages: [...byTopic].map(([topic, messages]) => ({ topic, messages })),
      });
    },
    outage(error) {
      connected = false;
      if (isProducerStateLost(error)) {
        // Start over with a new producer id at the next run; the old one is dropped.
        const lost = producer;
        producer = newProducer();
        void lost.disconnect().catch(() => undefined);
        logger.warn({ err: error }, 'kafka lost the producer state; a new producer sends the rows again');
      }
      link = 'down';
      backoffMs = Math.min(Math.max(backoffMs * 2, options.backoffMsMin), options.backoffMsMax);
      backoffUntil = Date.now() + backoffMs * (0.5 + Math.random() / 2);
      // Once per outage, not once per attempt; the rows wait in the outbox meanwhile.
      outages.down('kafka', error);
      logger.debug({ err: error, backoffMs }, 'kafka unreachable; outbox rows wait');
    },
    reached() {
      outages.up('kafka');
      link = 'ok';
      backoffMs = 0;
    },
    backingOff: () => Date.now() < backoffUntil,
    link: () => link,
    async close() {
      await producer.disconnect().catch(() => undefined);
    },
  };
}

/** A batch the broker refused for its content: publish row by row to find and count the culprit. */
async function isolatePoison(
  sender: KafkaSender,
  client: Client,
  rows: OutboxRow[],
  logger: Logger,
  publishAttemptsMax: number,
): Promise<{ published: string[]; parked: number }> {
  const published: string[] = [];
  let parked = 0;
  for (const row of rows) {
    try {
      await sender.publish([row]);
      published.push(row.id);
    } catch (error) {
      if (isOutage(error)) throw error;
      if (await recordPublishFailure(client, row.id, String(error), publishAttemptsMax)) parked++;
      logger.error({ err: error, outboxId: row.id, messageId: row.message_id }, 'outbox row refused by kafka');
      // Later rows of this key would overtake it: stop here, keep order, try again next run.
      break;
    }
  }
  return { published, parked };
}

interface BatchResult {
  claimed: number;
  published: number;
  parked: number;
}

/**
 * One batch: claim, publish, and mark published in the transaction that claimed the rows, after
 * the broker's ack. Null when other relays hold every partition.
 */
async function relayBatch(
  pool: Pool,
  sender: KafkaSender,
  logger: Logger,
  options: RelayOptions,
): Promise<BatchResult | null> {
  return withTransaction(pool, async (client) => {
    const { locked, rows } = await claimKafkaBatch(client, options.partitions, options.batchSizeMax);
    if (locked === 0) return null;
    if (rows.length === 0) return { claimed: 0, published: 0, parked: 0 };
    try {
      await sender.publish(rows);
    } catch (error) {
      if (isOutage(error)) throw error;
      const isolated = await isolatePoison(sender, client, rows, logger, options.publishAttemptsMax);
      await markPublished(client, isolated.published);
      return { claimed: rows.length, published: isolated.published.length, parked: isolated.parked };
    }
    if (options.pauseAfterPublishMs > 0) {
      logger.info({ rows: rows.length }, 'relay published a batch; pausing before the mark');
      await sleep(options.pauseAfterPublishMs);
    }
    await markPublished(
      client,
      rows.map((r) => r.id),
    );
    return { claimed: rows.length, published: rows.length, parked: 0 };
  });
}

export function createRelay(pool: Pool, newProducer: () => Producer, logger: Logger, options: RelayOptions): Relay {
  const sender = createKafkaSender(newProducer, logger, options);
  return {
    async run() {
      if (sender.backingOff()) return { published: 0, parked: 0, skipped: true };
      const total: RelayRun = { published: 0, parked: 0, skipped: false };
      for (;;) {
        let batch: BatchResult | null;
        try {
          batch = await relayBatch(pool, sender, logger, options);
        } catch (error) {
          if (!isOutage(error)) throw error;
          sender.outage(error);
          return total;
        }
        if (batch === null) return { ...total, skipped: true };
        // Only a send that reached the broker says Kafka is back: an empty partition proves nothing.
        if (batch.published > 0) sender.reached();
        total.published += batch.published;
        total.parked += batch.parked;
        // A short batch means the partitions are drained; a refused row ends this run too.
        if (batch.claimed < options.batchSizeMax || batch.published < batch.claimed) return total;
      }
    },
    kafkaLink: () => sender.link(),
    close: () => sender.close(),
  };
}
