// Issue 16, second acceptance: the relay's LISTEN connection is terminated alone. The relay process
// must reconnect, LISTEN again, and carry new events to Kafka well within its poll interval: the poll
// is set to a minute here, so only a working LISTEN delivers them in time.
import { randomUUID } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { insertOutbox } from '../../src/messaging/outbox.sql.ts';
import { withTransaction } from '../../src/platform/db.ts';
import { deaths, processEnv, spawnRole, testDatabaseName, waitFor } from '../support/engine-processes.ts';
import { readTopic } from '../support/kafka-topic.ts';
import { useResilienceRig } from '../support/resilience-rig.ts';

const pollIntervalMs = 60_000;
const listenApplicationName = 'order-engine-relay-listen';

const rig = useResilienceRig({ partitions: 1, admin: true });

async function listenBackends(): Promise<number[]> {
  const found = await rig.admin.query<{ pid: number }>(
    `SELECT pid FROM pg_stat_activity WHERE datname = $1 AND application_name = $2 AND query ILIKE 'LISTEN%'`,
    [testDatabaseName(), listenApplicationName],
  );
  return found.rows.map((r) => r.pid);
}

/** One Kafka-bound outbox row for this test's topic; its commit notifies 'outbox_kafka'. */
async function emitEvent(): Promise<string> {
  const orderId = randomUUID();
  await withTransaction(rig.core.pool, (client) =>
    insertOutbox(client, [
      {
        messageId: `${orderId}.listen-test`,
        orderId,
        correlationId: 'listen-test',
        type: 'order.created',
        payload: { order_id: orderId },
        destination: `kafka:${rig.topic}`,
      },
    ]),
  );
  return orderId;
}

/** Waits, well short of the poll interval, until the event with this key is on the topic. */
async function reachesKafka(key: string): Promise<number> {
  const started = Date.now();
  await readTopic(rig.core.config, rig.topic, (messages) => messages.some((m) => m.key === key), pollIntervalMs / 3);
  return Date.now() - started;
}

beforeAll(async () => {
  // Rows earlier test files left for topics that no longer exist are not this test's business.
  await rig.core.pool.query(
    `UPDATE outbox SET published_at = now() WHERE published_at IS NULL AND destination LIKE 'kafka:%'`,
  );
}, 60_000);

describe("the relay's LISTEN connection terminated alone", () => {
  it('reconnects, LISTENs again, and new events reach Kafka within the poll interval', async () => {
    const env = processEnv({
      QUEUE_PREFIX: rig.core.config.QUEUE_PREFIX,
      KAFKA_TOPIC_ORDER_EVENTS: rig.topic,
      RELAY_POLL_INTERVAL_MS: String(pollIntervalMs),
      LOG_LEVEL: 'debug',
    });
    const relay = spawnRole('relay', 'relay.main.ts', [], env);
    rig.processes.push(relay);
    await waitFor('the relay to LISTEN', async () => (await listenBackends()).length === 1, 60_000);
    const [first] = await listenBackends();
    // The poll's first runs happen at start; wait for them to pass so only LISTEN can deliver.
    expect(await reachesKafka(await emitEvent())).toBeLessThan(pollIntervalMs / 3);

    for (let cut = 0; cut < 3; cut++) {
      const [before] = await listenBackends();
      const killed = await rig.admin.query('SELECT pg_terminate_backend($1)', [before]);
      expect(killed.rowCount).toBe(1);
      await waitFor(
        'a new LISTEN connection',
        async () => {
          const now = await listenBackends();
          return now.length === 1 && now[0] !== before;
        },
        20_000,
      );
      // The reconnect itself wakes the relay once; let that pass, so only a NOTIFY can deliver.
      await new Promise((resolve) => setTimeout(resolve, 2_000));
      expect(await reachesKafka(await emitEvent())).toBeLessThan(pollIntervalMs / 3);
    }
    expect((await listenBackends())[0]).not.toBe(first);
    expect(deaths(rig.processes)).toEqual([]);
    expect(relay.output.filter((l) => l.includes('postgres listen reachable again')).length).toBeGreaterThanOrEqual(3);
  }, 180_000);
});
