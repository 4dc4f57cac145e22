// Benchmark: relay throughput from a backlog. Writes N Kafka-bound outbox rows (10 events for
// each of N/10 orders) into a fresh `order_engine_bench` database, starts one relay, and times
// the drain to the broker. Repeats, and quotes the median.
//   npm run bench:relay -- --rows 100000 --runs 3
import { randomUUID } from 'node:crypto';
import { parseArgs } from 'node:util';
import { startRelay } from '../../src/relay/relay.worker.ts';
import { loadConfig } from '../../src/platform/config.ts';
import { createKafka } from '../../src/platform/kafka.ts';
import { createLogger } from '../../src/platform/logger.ts';
import { createRedis } from '../../src/platform/redis.ts';
import { benchDatabaseUrl, freshDatabase, median, progress } from './bench-support.ts';

const { values } = parseArgs({
  options: { rows: { type: 'string', default: '100000' }, runs: { type: 'string', default: '3' } },
});
const rows = Number(values.rows);
const databaseUrl = benchDatabaseUrl('order_engine_bench');
const pool = await freshDatabase(databaseUrl);
const config = loadConfig({
  ...process.env,
  DATABASE_URL: databaseUrl,
  QUEUE_PREFIX: `bench-relay-${randomUUID().slice(0, 6)}`,
});
const kafka = createKafka({
  brokers: config.KAFKA_BROKERS,
  clientId: 'bench',
  requestTimeoutMs: 30_000,
  connectionTimeoutMs: 3_000,
});
const admin = kafka.admin();
await admin.connect();
const redis = createRedis(config.REDIS_URL);
const rates: number[] = [];

try {
  for (let run = 1; run <= Number(values.runs); run++) {
    const topic = `bench-relay-${randomUUID().slice(0, 8)}`;
    await admin.createTopics({ topics: [{ topic, numPartitions: 6, replicationFactor: 1 }], waitForLeaders: true });
    await pool.query(`TRUNCATE outbox`);
    await pool.query(
      `INSERT INTO outbox (message_id, destination, key, type, payload, headers)
       SELECT o.id || '.event.' || e, $2, o.id, 'order.created',
              jsonb_build_object('id', o.id || '.event.' || e, 'type', 'order.created', 'order_id', o.id,
                                 'occurred_at', now(), 'schema_version', 1,
                                 'data', jsonb_build_object('total', '19.99', 'currency', 'USD')),
              jsonb_build_object('event-id', o.id || '.event.' || e, 'correlation-id', 'bench')
         FROM (SELECT gen_random_uuid()::text AS id FROM generate_series(1, $1 / 10)) o, generate_series(1, 10) e`,
      [rows, `kafka:${topic}`],
    );
    progress(`run ${run}: ${rows} rows in the backlog; relay starting`);
    const started = Date.now();
    const relay = await startRelay({ config, pool, redis, logger: createLogger('warn', 'bench-relay') });
    for (;;) {
      const left = await pool.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM outbox WHERE published_at IS NULL AND destination LIKE 'kafka:%'`,
      );
      if (left.rows[0]!.n === 0) break;
      progress(`run ${run}: ${left.rows[0]!.n} left`);
      await new Promise((resolve) => setTimeout(resolve, 1_000));
    }
    const seconds = (Date.now() - started) / 1_000;
    await relay.close();
    await relay.queue.obliterate({ force: true }).catch(() => undefined);
    rates.push(rows / seconds);
    progress(`run ${run}: drained in ${seconds.toFixed(1)} s = ${Math.round(rows / seconds)} events/s`);
    await admin.deleteTopics({ topics: [topic] });
  }
  console.log(
    JSON.stringify(
      {
        rows,
        runs: rates.length,
        events_per_second: rates.map(Math.round),
        median_events_per_second: Math.round(median(rates)),
      },
      null,
      2,
    ),
  );
} finally {
  await admin.disconnect();
  await redis.quit();
  await pool.end();
}
