// Each relay's heartbeat in Redis, so the API's /ready can say "relay degraded" (Kafka away, or no
// relay running) without itself talking to Kafka. PostgreSQL's outbox depth stays the truth.
// One hash field per relay process: with several relays, one that sits idle (another holds the
// partitions) must not overwrite the report of the one that just failed to reach the broker.
import { randomUUID } from 'node:crypto';
import type { RedisClient } from '../platform/redis.ts';
import type { KafkaLink } from './relay.ts';

export const relayStatusTtlMs = 10_000;
const keyOf = (prefix: string) => `${prefix}:relay:status`;

interface RelayHeartbeat {
  kafka: KafkaLink;
  pid: number;
  at: number;
}

function liveHeartbeats(fields: Record<string, string>, now: number): { live: RelayHeartbeat[]; stale: string[] } {
  const live: RelayHeartbeat[] = [];
  const stale: string[] = [];
  for (const [field, raw] of Object.entries(fields)) {
    const beat = JSON.parse(raw) as RelayHeartbeat;
    if (now - beat.at <= relayStatusTtlMs) live.push(beat);
    else stale.push(field);
  }
  return { live, stale };
}

export function relayInstanceId(): string {
  return `${process.pid}-${randomUUID().slice(0, 8)}`;
}

export async function writeRelayStatus(
  redis: RedisClient,
  prefix: string,
  instance: string,
  link: KafkaLink,
): Promise<void> {
  const key = keyOf(prefix);
  const now = Date.now();
  const beat: RelayHeartbeat = { kafka: link, pid: process.pid, at: now };
  const { stale } = liveHeartbeats(await redis.hgetall(key), now);
  const multi = redis.multi().hset(key, instance, JSON.stringify(beat)).pexpire(key, relayStatusTtlMs);
  if (stale.length > 0) multi.hdel(key, ...stale);
  await multi.exec();
}

export async function clearRelayStatus(redis: RedisClient, prefix: string, instance: string): Promise<void> {
  await redis.hdel(keyOf(prefix), instance);
}

/**
 * 'ok' when at least one live relay runs and none of them finds Kafka down; 'degraded' otherwise.
 * Never 'down': the API still serves.
 */
export async function readRelayStatus(redis: RedisClient, prefix: string): Promise<'ok' | 'degraded'> {
  const { live } = liveHeartbeats(await redis.hgetall(keyOf(prefix)), Date.now());
  if (live.length === 0) return 'degraded';
  return live.some((beat) => beat.kafka === 'down') ? 'degraded' : 'ok';
}
