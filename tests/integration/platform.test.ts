// The foundation on real servers: migrations, the transaction helper, Redlock over three Redis
// nodes (one of them stopped), and a Kafka round trip with the idempotent producer.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRedisNode, stopRedisNode } from '../../src/local-infra/redis.local.ts';
import { createPool, withTransaction, type Pool } from '../../src/platform/db.ts';
import { createKafka, createProducer, producerAcks } from '../../src/platform/kafka.ts';
import { createRedlock, LockUnavailableError, type Lock } from '../../src/platform/lock.ts';
import { migrate } from '../../src/platform/migrate.ts';
import { createRedis } from '../../src/platform/redis.ts';
import { testConfig } from '../support/test-config.ts';

const config = testConfig();
let pool: Pool;

beforeAll(() => {
  pool = createPool({ connectionString: config.DATABASE_URL, poolSizeMax: 4, statementTimeoutMs: 10_000 });
});
afterAll(async () => {
  await pool?.end();
});

describe('migrations', () => {
  it('apply from zero into an empty schema, then a second run applies nothing', async () => {
    const schema = `mig_${randomUUID().slice(0, 8)}`;
    const scoped = createPool({ connectionString: config.DATABASE_URL, poolSizeMax: 1, statementTimeoutMs: 30_000 });
    try {
      await scoped.query(`CREATE SCHEMA ${schema}`);
      scoped.on('connect', (client) => void client.query(`SET search_path TO ${schema}`));
      await scoped.query(`SET search_path TO ${schema}`);
      const first = await migrate(scoped);
      expect(first.applied[0]).toBe('001_schema.sql');
      expect(first.skipped).toEqual([]);
      const second = await migrate(scoped);
      expect(second.applied).toEqual([]);
      expect(second.skipped).toEqual(first.applied);
      const tables = await scoped.query(
        `SELECT count(*)::int AS n FROM information_schema.tables WHERE table_schema = $1`,
        [schema],
      );
      expect(tables.rows[0].n).toBeGreaterThan(15);
    } finally {
      await scoped.query(`DROP SCHEMA ${schema} CASCADE`);
      await scoped.end();
    }
  });
});

describe('withTransaction', () => {
  it('retries a forced serialization failure and then commits once', async () => {
    const key = `tx-${randomUUID()}`;
    await pool.query(`INSERT INTO inbox (consumer, message_id) VALUES ('tx-test', $1)`, [key]);
    let attempts = 0;
    await withTransaction(
      pool,
      async (client) => {
        attempts++;
        if (attempts === 1) {
          // A real 40001 from PostgreSQL: two serializable transactions in a write skew.
          await client.query(`SELECT count(*) FROM inbox WHERE consumer = 'tx-test'`);
          await withTransaction(
            pool,
            (other) => other.query(`DELETE FROM inbox WHERE consumer = 'tx-test' AND message_id = $1`, [key]),
            {
              isolation: 'serializable',
            },
          );
        }
        await client.query(`INSERT INTO inbox (consumer, message_id) VALUES ('tx-test', $1) ON CONFLICT DO NOTHING`, [
          `${key}-done`,
        ]);
        await client.query(`UPDATE inbox SET processed_at = now() WHERE consumer = 'tx-test' AND message_id = $1`, [
          key,
        ]);
      },
      { isolation: 'serializable', attemptsMax: 3, backoffMs: 5 },
    );
    expect(attempts).toBe(2);
    const done = await pool.query(`SELECT count(*)::int AS n FROM inbox WHERE message_id = $1`, [`${key}-done`]);
    expect(done.rows[0].n).toBe(1);
  });

  it('does not retry other errors', async () => {
    let attempts = 0;
    await expect(
      withTransaction(pool, async (client) => {
        attempts++;
        await client.query('SELECT 1/0');
      }),
    ).rejects.toThrow(/division by zero/);
    expect(attempts).toBe(1);
  });
});

function lockOver(nodes: string[]): Lock {
  return createRedlock(
    nodes.map((url) => createRedis(url, { maxRetriesPerRequest: 0, enableOfflineQueue: false })),
    { retryCount: 10, retryDelayMs: 50, retryJitterMs: 10 },
  );
}

describe('Redlock over three Redis nodes', () => {
  it('is exclusive between two clients', async () => {
    const [a, b] = [lockOver(config.REDLOCK_NODES), lockOver(config.REDLOCK_NODES)];
    const resource = `test:${randomUUID()}`;
    try {
      const lease = await a.acquire([resource], 5_000);
      const fast = createRedlock(
        config.REDLOCK_NODES.map((url) => createRedis(url, { maxRetriesPerRequest: 0 })),
        { retryCount: 2, retryDelayMs: 20, retryJitterMs: 5 },
      );
      const refused = fast.acquire([resource], 5_000);
      await expect(refused).rejects.toBeInstanceOf(LockUnavailableError);
      await expect(refused).rejects.toMatchObject({ reason: 'contended' });
      await fast.close();
      await lease.release();
      const second = await b.acquire([resource], 5_000);
      await second.release();
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });

  it('says failed, not contended, when too few nodes answer', async () => {
    // Two of three "nodes" on ports nothing listens on: no quorum, and nobody holds the resource.
    const lock = lockOver([config.REDLOCK_NODES[0]!, 'redis://127.0.0.1:1', 'redis://127.0.0.1:2']);
    try {
      const refused = lock.acquire([`test:${randomUUID()}`], 5_000);
      await expect(refused).rejects.toBeInstanceOf(LockUnavailableError);
      await expect(refused).rejects.toMatchObject({ reason: 'failed' });
    } finally {
      await lock.close();
    }
  });

  it('still works with one node stopped', async () => {
    const port = Number(new URL(config.REDLOCK_NODES[2]!).port);
    await stopRedisNode(port);
    const lock = lockOver(config.REDLOCK_NODES);
    try {
      const resource = `test:${randomUUID()}`;
      const lease = await lock.acquire([resource], 5_000);
      // The two live nodes hold the lease: a rival cannot reach a quorum.
      const rival = createRedlock(
        config.REDLOCK_NODES.map((u) => createRedis(u, { maxRetriesPerRequest: 0, enableOfflineQueue: false })),
        {
          retryCount: 1,
          retryDelayMs: 10,
          retryJitterMs: 1,
        },
      );
      await expect(rival.acquire([resource], 5_000)).rejects.toBeInstanceOf(LockUnavailableError);
      await rival.close();
      await lease.release();
    } finally {
      await lock.close();
      await startRedisNode(port);
    }
  });
});

describe('Kafka', () => {
  it('reads back, with a consumer group, what the idempotent producer wrote', async () => {
    const kafka = createKafka({
      brokers: config.KAFKA_BROKERS,
      clientId: 'platform-test',
      requestTimeoutMs: 10_000,
      connectionTimeoutMs: 3_000,
    });
    const topic = `platform-test-${randomUUID().slice(0, 8)}`;
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic, numPartitions: 2, replicationFactor: 1 }], waitForLeaders: true });
    const producer = createProducer(kafka);
    await producer.connect();
    const ids = Array.from({ length: 10 }, () => randomUUID());
    for (const id of ids) {
      await producer.send({
        topic,
        acks: producerAcks,
        messages: [{ key: 'order-1', value: JSON.stringify({ id }), headers: { 'event-id': id } }],
      });
    }
    const consumer = kafka.consumer({ groupId: `platform-test-${randomUUID()}` });
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    const seen: string[] = [];
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`read ${seen.length} of ${ids.length} messages`)), 30_000);
      void consumer.run({
        eachMessage: async ({ message }) => {
          seen.push(String(message.headers?.['event-id']));
          if (seen.length === ids.length) {
            clearTimeout(timer);
            resolve();
          }
        },
      });
    });
    // One key, one partition: the order of sending is the order of reading.
    expect(seen).toEqual(ids);
    await consumer.disconnect();
    await producer.disconnect();
    await admin.deleteTopics({ topics: [topic] });
    await admin.disconnect();
  });
});
