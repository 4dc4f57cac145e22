// What the relay tests assert about a topic: every committed event id is there, and per order the
// first appearances follow the commit (outbox id) order. Duplicates are allowed.
import type { Pool } from '../../src/platform/db.ts';
import type { TopicMessage } from './kafka-topic.ts';

export async function committedEvents(pool: Pool, topic: string, orderIds: string[]): Promise<Map<string, string[]>> {
  const rows = await pool.query<{ key: string; message_id: string }>(
    `SELECT key, message_id FROM outbox WHERE destination = $1 AND key = ANY($2::text[]) ORDER BY id`,
    [`kafka:${topic}`, orderIds],
  );
  const byOrder = new Map<string, string[]>();
  for (const row of rows.rows) byOrder.set(row.key, [...(byOrder.get(row.key) ?? []), row.message_id]);
  return byOrder;
}

export async function undeliveredCount(pool: Pool, topic: string, orderIds: string[]): Promise<number> {
  const result = await pool.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM outbox WHERE destination = $1 AND key = ANY($2::text[]) AND published_at IS NULL`,
    [`kafka:${topic}`, orderIds],
  );
  return result.rows[0]?.n ?? 0;
}

export async function waitUntilDelivered(
  pool: Pool,
  topic: string,
  orderIds: string[],
  timeoutMs: number,
): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const left = await undeliveredCount(pool, topic, orderIds);
    if (left === 0 || Date.now() > deadline) return left;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

export interface DeliveryReport {
  missing: string[];
  outOfOrder: string[];
  duplicates: number;
}

export function compareDelivery(committed: Map<string, string[]>, messages: TopicMessage[]): DeliveryReport {
  const seen = new Map<string, string[]>();
  const ids = new Set<string>();
  let duplicates = 0;
  for (const m of messages) {
    if (ids.has(m.eventId)) {
      duplicates++;
      continue;
    }
    ids.add(m.eventId);
    seen.set(m.key, [...(seen.get(m.key) ?? []), m.eventId]);
  }
  const missing: string[] = [];
  const outOfOrder: string[] = [];
  for (const [orderId, events] of committed) {
    for (const id of events) if (!ids.has(id)) missing.push(id);
    const firstSeen = (seen.get(orderId) ?? []).filter((id) => events.includes(id));
    if (firstSeen.join(',') !== events.filter((id) => ids.has(id)).join(',')) outOfOrder.push(orderId);
  }
  return { missing, outOfOrder, duplicates };
}

export function allCommittedSeen(committed: Map<string, string[]>) {
  const wanted = new Set([...committed.values()].flat());
  let read = 0;
  return (messages: TopicMessage[]) => {
    for (; read < messages.length; read++) wanted.delete(messages[read]!.eventId);
    return wanted.size === 0;
  };
}
