// Invariants about events: every Kafka-bound outbox row was published, every event id is on the
// topic (read from the beginning by a consumer of our own, in a fresh group), and the
// notifications consumer acted at most once per event and once per confirmed order.
import { randomUUID } from 'node:crypto';
import { Kafka, logLevel } from 'kafkajs';
import type { Queryable } from '../../src/platform/db.ts';
import { result, type CheckScope, type InvariantResult } from './check-types.ts';

const readTimeoutMs = 90_000;

/** Every event id on the topic, from offset 0 up to the end offsets seen when the read began. */
export async function eventIdsOnTopic(brokers: string[], topic: string): Promise<Set<string>> {
  process.env.KAFKAJS_NO_PARTITIONER_WARNING ??= '1';
  const kafka = new Kafka({ clientId: 'chaos-checker', brokers, logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  const ends = await admin.fetchTopicOffsets(topic);
  await admin.disconnect();
  const remaining = new Map(ends.filter((p) => Number(p.high) > 0).map((p) => [p.partition, BigInt(p.high)]));
  const ids = new Set<string>();
  if (remaining.size === 0) return ids;
  const consumer = kafka.consumer({ groupId: `chaos-checker-${randomUUID()}`, maxWaitTimeInMs: 200 });
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`read ${ids.size} event ids from ${topic}, the end was not reached in time`)),
        readTimeoutMs,
      );
      void consumer.run({
        eachMessage: async ({ partition, message }) => {
          const id = message.headers?.['event-id'];
          if (id !== undefined) ids.add(String(id));
          const high = remaining.get(partition);
          if (high !== undefined && BigInt(message.offset) + 1n >= high) remaining.delete(partition);
          if (remaining.size === 0) {
            clearTimeout(timer);
            resolve();
          }
        },
      });
    });
  } finally {
    await consumer.disconnect();
  }
  return ids;
}

export async function checkEvents(pool: Queryable, scope: CheckScope): Promise<InvariantResult> {
  const rows = await pool.query<{ message_id: string; key: string; published: boolean; parked: boolean }>(
    `SELECT message_id, key, published_at IS NOT NULL AS published, parked_at IS NOT NULL AS parked
       FROM outbox WHERE destination = $1 AND key = ANY($2::text[]) ORDER BY id`,
    [`kafka:${scope.topic}`, scope.orderIds],
  );
  const problems: string[] = [];
  for (const row of rows.rows) {
    if (row.parked) problems.push(`event ${row.message_id} is parked, not published`);
    else if (!row.published) problems.push(`event ${row.message_id} is not published`);
  }
  let onTopic: Set<string> | null = null;
  try {
    onTopic = await eventIdsOnTopic(scope.brokers, scope.topic);
  } catch (error) {
    problems.push(`could not read ${scope.topic}: ${(error as Error).message}`);
  }
  if (onTopic !== null) {
    for (const row of rows.rows)
      if (!onTopic.has(row.message_id)) problems.push(`event ${row.message_id} is not on the topic`);
  }
  return result('every event published and on the topic', `${rows.rowCount} outbox events`, problems, [
    `${rows.rowCount} Kafka-bound outbox rows published; all found among ${onTopic?.size ?? 0} event ids read from ${scope.topic}`,
  ]);
}

export async function checkNotifications(pool: Queryable, scope: CheckScope): Promise<InvariantResult> {
  const twice = await pool.query<{ what: string; n: number }>(
    `SELECT 'event ' || event_id AS what, count(*)::int AS n FROM notifications GROUP BY event_id HAVING count(*) > 1
     UNION ALL
     SELECT 'order ' || order_id || ' ' || kind, count(*)::int FROM notifications GROUP BY order_id, kind HAVING count(*) > 1
     LIMIT 100`,
  );
  const missing = await pool.query<{ id: string }>(
    `SELECT o.id::text FROM orders o
      WHERE o.id = ANY($1::uuid[])
        AND EXISTS (SELECT 1 FROM outbox x WHERE x.key = o.id::text AND x.destination = $2 AND x.type = 'order.confirmed')
        AND NOT EXISTS (SELECT 1 FROM notifications n WHERE n.order_id = o.id AND n.kind = 'order_confirmation')`,
    [scope.orderIds, `kafka:${scope.topic}`],
  );
  const sent = await pool.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM notifications WHERE order_id = ANY($1::uuid[])`,
    [scope.orderIds],
  );
  const problems = twice.rows.map((r) => `${r.what} was acted on ${r.n} times`);
  const figures = [`${sent.rows[0]?.n ?? 0} confirmations sent, none twice`];
  if (scope.expectNotifications) {
    problems.push(...missing.rows.map((r) => `order ${r.id} was confirmed but its confirmation was never sent`));
  } else if (missing.rowCount !== null && missing.rowCount > 0) {
    figures.push(`${missing.rowCount} confirmed orders without a confirmation yet (no consumer ran in this run)`);
  }
  return result('notifications at most once', `${scope.orderIds.length} orders`, problems, figures);
}
