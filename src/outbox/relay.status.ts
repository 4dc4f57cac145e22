// The relay's heartbeat in Redis, so the API's /ready can say "relay degraded" (Kafka away, or
// no relay running) without itself talking to Kafka. PostgreSQL's outbox depth stays the truth.
import type { Redis } from 'ioredis';
import type { KafkaLink } from './relay.ts';

export const relayStatusTtlMs = 10_000;
const keyOf = (prefix: string) => `${prefix}:relay:status`;

export async function writeRelayStatus(redis: Redis, prefix: string, link: KafkaLink): Promise<void> {
  await redis.set(
    keyOf(prefix),
    JSON.stringify({ kafka: link, pid: process.pid, at: Date.now() }),
    'PX',
    relayStatusTtlMs,
  );
}

/** 'ok' with a live relay that reaches Kafka; 'degraded' otherwise. Never 'down': the API still serves. */
export async function readRelayStatus(redis: Redis, prefix: string): Promise<'ok' | 'degraded'> {
  const raw = await redis.get(keyOf(prefix));
  if (raw === null) return 'degraded';
  const status = JSON.parse(raw) as { kafka: KafkaLink };
  return status.kafka === 'down' ? 'degraded' : 'ok';
}
