// Issue 16, second acceptance: the relay's LISTEN connection is terminated alone. The relay process
// must reconnect, LISTEN again, and carry new events to Kafka well within its poll interval: the poll
// is set to a minute here, so only a working LISTEN delivers them in time.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type pg from 'pg';
import type { CoreDeps } from '../../src/main/core-deps.ts';
import { insertOutbox } from '../../src/messaging/outbox.sql.ts';
import { withTransaction } from '../../src/platform/db.ts';
import {
  adminClient,
  deaths,
  processEnv,
  spawnRole,
  stopAll,
  testDatabaseName,
  waitFor,
  type EngineProcess,
} from '../support/engine-processes.ts';
import { createTestDeps } from '../support/harness.ts';
import { createTopic, deleteTopic, readTopic } from '../support/kafka-topic.ts';
import { testConfig } from '../support/test-config.ts';

const pollIntervalMs = 60_000;
const listenApplicationName = 'order-engine-relay-listen';

let core: CoreDeps;
let admin: pg.Client;
let topic: string;
const processes: EngineProcess[] = [];

async function listenBackends(): Promise<number[]> {
  const found = await admin.query<{ pid: number }>(
    `SELECT pid FROM pg_stat_activity WHERE datname = $1 AND application_name = $2 AND query ILIKE 'LISTEN%'`,
    [testDatabaseName(), listenApplicationName],
  );
  return found.rows.map((r) => r.pid);
}

/** One Kafka-bound outbox row for this test's topic; its commit notifies 'outbox_kafka'. */
async function emitEvent(): Promise<string> {
  const orderId = randomUUID();
  await withTransaction(core.pool, (client) =>
    insertOutbox(client, [
      {
        messageId: `${orderId}.listen-test`,
        orderId,
        correlationId: 'listen-test',
        type: 'order.created',
        payload: { order_id: orderId },
        destination: `kafka:${topic}`,
      },
    ]),
  );
  return orderId;
}

/** Waits, well short of the poll interval, until the event with this key is on the topic. */
async function reachesKafka(key: string): Promise<number> {
  const started = Date.now();
  await readTopic(core.config, topic, (messages) => messages.some((m) => m.key === key), pollIntervalMs / 3);
  return Date.now() - started;
}

beforeAll(async () => {
  topic = await createTopic(testConfig(), 1);
  core = createTestDeps({ KAFKA_TOPIC_ORDER_EVENTS: topic });
  admin = await adminClient();
  // Rows earlier test files left for topics that no longer exist are not this test's business.
  await core.pool.query(
    `UPDATE outbox SET dispatched_at = now() WHERE dispatched_at IS NULL AND destination LIKE 'kafka:%'`,
  );
}, 60_000);

afterAll(async () => {
  await stopAll(processes);
  await core?.close();
  await admin?.end();
  if (topic !== undefined) await deleteTopic(testConfig(), topic);
});

describe("the relay's LISTEN connection terminated alone", () => {
  it('reconnects, LISTENs again, and new events reach Kafka within the poll interval', async () => {
    const env = processEnv({
      QUEUE_PREFIX: core.config.QUEUE_PREFIX,
      KAFKA_TOPIC_ORDER_EVENTS: topic,
      RELAY_POLL_INTERVAL_MS: String(pollIntervalMs),
      LOG_LEVEL: 'debug',
    });
    const relay = spawnRole('relay', 'relay.main.ts', [], env);
    processes.push(relay);
    await waitFor('the relay to LISTEN', async () => (await listenBackends()).length === 1, 60_000);
    const [first] = await listenBackends();
    // The poll's first runs happen at start; wait for them to pass so only LISTEN can deliver.
    expect(await reachesKafka(await emitEvent())).toBeLessThan(pollIntervalMs / 3);

    for (let cut = 0; cut < 3; cut++) {
      const [before] = await listenBackends();
      const killed = await admin.query('SELECT pg_terminate_backend($1)', [before]);
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
    expect(deaths(processes)).toEqual([]);
    expect(relay.output.filter((l) => l.includes('postgres listen reachable again')).length).toBeGreaterThanOrEqual(3);
  }, 180_000);
});
