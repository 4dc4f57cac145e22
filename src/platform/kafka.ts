// kafkajs client and the idempotent producer: acks from all replicas, one request in flight,
// so a retried send can neither duplicate nor reorder a partition's messages.
import { Kafka, logLevel, Partitioners, type Producer } from 'kafkajs';
import type { Config } from './config.ts';

export type { Producer };

export interface KafkaOptions {
  brokers: string[];
  clientId: string;
  requestTimeoutMs: number;
  connectionTimeoutMs: number;
}

export function createKafka(options: KafkaOptions): Kafka {
  return new Kafka({
    clientId: options.clientId,
    brokers: options.brokers,
    requestTimeout: options.requestTimeoutMs,
    connectionTimeout: options.connectionTimeoutMs,
    logLevel: logLevel.NOTHING,
    retry: { retries: 5, initialRetryTime: 100, maxRetryTime: 2_000 },
  });
}

/** The Kafka client of one role of the engine, from the configuration. */
export function createKafkaFromConfig(config: Config, role: string): Kafka {
  return createKafka({
    brokers: config.KAFKA_BROKERS,
    clientId: `${config.KAFKA_CLIENT_ID}-${role}`,
    requestTimeoutMs: config.KAFKA_REQUEST_TIMEOUT_MS,
    connectionTimeoutMs: config.KAFKA_CONNECTION_TIMEOUT_MS,
  });
}

export function createProducer(kafka: Kafka): Producer {
  return kafka.producer({
    idempotent: true,
    maxInFlightRequests: 1,
    allowAutoTopicCreation: false,
    createPartitioner: Partitioners.DefaultPartitioner,
    retry: { retries: 5, initialRetryTime: 100, maxRetryTime: 2_000 },
  });
}

/** acks: -1 on every send; callers pass the topic and keyed messages. */
export const producerAcks = -1;
