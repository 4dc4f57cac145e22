// Benchmark: orders/s from creation to a final state, the p50/p99 of that latency, and the lag
// from commit to the event on the Kafka topic, under N concurrent HTTP clients.
// The engine runs as its own process (src/main/all.main.ts) on a fresh database `order_engine_bench`.
//   npm run bench:orders -- --orders 2000 --clients 50 [--mode closed|open] [--products 50]
import { randomUUID } from 'node:crypto';
import { parseArgs } from 'node:util';
import { upsertProduct } from '../../src/inventory/inventory.sql.ts';
import { createKafka } from '../../src/platform/kafka.ts';
import { benchDatabaseUrl, freshDatabase, percentile, progress, startProcess, waitForHttp } from './bench-support.ts';

const { values } = parseArgs({
  options: {
    orders: { type: 'string', default: '2000' },
    clients: { type: 'string', default: '50' },
    products: { type: 'string', default: '50' },
    // closed: each client waits for its order's outcome (Prefer: wait) before placing the next,
    // so at most `clients` orders are in flight. open: clients place orders as fast as they can.
    mode: { type: 'string', default: 'closed' },
    port: { type: 'string', default: '3100' },
  },
});
const orderCount = Number(values.orders);
const clients = Number(values.clients);
const url = `http://127.0.0.1:${values.port}`;
const databaseUrl = benchDatabaseUrl('order_engine_bench');
const topic = `bench-events-${randomUUID().slice(0, 8)}`;
const brokers = (process.env.KAFKA_BROKERS ?? '127.0.0.1:9092').split(',');

progress(`fresh database ${databaseUrl}`);
const pool = await freshDatabase(databaseUrl);
// Orders spread over `products` products: a checkout's traffic, not one hot item (the race
// tests cover the hot item).
const productIds = Array.from({ length: Number(values.products) }, (_, i) => `bench-item-${i}`);
for (const id of productIds)
  await upsertProduct(pool, { id, name: id, price: '9.99', currency: 'USD', stock: orderCount * 2 });
const kafka = createKafka({ brokers, clientId: 'bench', requestTimeoutMs: 10_000, connectionTimeoutMs: 3_000 });
const admin = kafka.admin();
await admin.connect();
await admin.createTopics({ topics: [{ topic, numPartitions: 6, replicationFactor: 1 }], waitForLeaders: true });

const received = new Map<string, number>();
const consumer = kafka.consumer({ groupId: `bench-${topic}`, maxWaitTimeInMs: 50 });
await consumer.connect();
await consumer.subscribe({ topic, fromBeginning: true });
await consumer.run({
  eachMessage: async ({ message }) => {
    const id = String(message.headers?.['event-id']);
    if (!received.has(id)) received.set(id, Date.now());
  },
});

const engine = startProcess('src/main/all.main.ts', {
  DATABASE_URL: databaseUrl,
  QUEUE_PREFIX: `bench-${randomUUID().slice(0, 6)}`,
  HTTP_PORT: String(values.port),
  KAFKA_TOPIC_ORDER_EVENTS: topic,
});
try {
  await waitForHttp(`${url}/health`, 60_000);
  progress(`engine up; placing ${orderCount} orders with ${clients} clients`);
  let next = 0;
  const started = Date.now();
  await Promise.all(
    Array.from({ length: clients }, async () => {
      while (next < orderCount) {
        const n = next++;
        const res = await fetch(`${url}/api/v1/orders`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', ...(values.mode === 'closed' ? { Prefer: 'wait=30' } : {}) },
          body: JSON.stringify({
            user_id: `bench-${n % 500}`,
            currency: 'USD',
            items: [{ product_id: productIds[n % productIds.length]!, quantity: 1 }],
            shipping_address: { name: 'B', line1: '1 Road', city: 'Town', postal_code: '1000', country: 'GB' },
          }),
        });
        if (res.status !== 202 && res.status !== 201)
          throw new Error(`POST /orders answered ${res.status}: ${await res.text()}`);
        await res.arrayBuffer();
        if (n % 500 === 499) progress(`${n + 1} placed`);
      }
    }),
  );
  progress(`all placed in ${((Date.now() - started) / 1000).toFixed(1)} s; waiting for final states`);
  for (;;) {
    const open = await pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM orders WHERE finalized_at IS NULL`);
    const left = open.rows[0]!.n;
    if (left === 0) break;
    progress(`${left} orders not final yet`);
    await new Promise((resolve) => setTimeout(resolve, 2_000));
  }
  const events = await pool.query<{ message_id: string; committed: Date }>(
    `SELECT message_id, created_at AS committed FROM outbox WHERE destination = $1`,
    [`kafka:${topic}`],
  );
  const deadline = Date.now() + 120_000;
  while (received.size < events.rowCount! && Date.now() < deadline)
    await new Promise((resolve) => setTimeout(resolve, 500));

  const latency = await pool.query<{ ms: number }>(
    `SELECT extract(epoch FROM finalized_at - created_at) * 1000 AS ms FROM orders ORDER BY 1`,
  );
  const span = await pool.query<{ seconds: number; statuses: Record<string, number> }>(
    `SELECT extract(epoch FROM max(finalized_at) - min(created_at)) AS seconds,
            (SELECT jsonb_object_agg(status, n) FROM (SELECT status, count(*) n FROM orders GROUP BY status) s) AS statuses
       FROM orders`,
  );
  const lags = events.rows
    .map((e) => (received.get(e.message_id) ?? Number.NaN) - e.committed.getTime())
    .filter((v) => Number.isFinite(v))
    .sort((a, b) => a - b);
  const ms = latency.rows.map((r) => Number(r.ms));
  const seconds = Number(span.rows[0]!.seconds);
  console.log(
    JSON.stringify(
      {
        orders: orderCount,
        clients,
        mode: values.mode,
        products: productIds.length,
        statuses: span.rows[0]!.statuses,
        orders_per_second: Number((orderCount / seconds).toFixed(1)),
        create_to_final_ms: { p50: Math.round(percentile(ms, 50)), p99: Math.round(percentile(ms, 99)) },
        kafka_events: { committed: events.rowCount, received: received.size },
        commit_to_topic_lag_ms: { p50: Math.round(percentile(lags, 50)), p99: Math.round(percentile(lags, 99)) },
      },
      null,
      2,
    ),
  );
} finally {
  engine.kill('SIGTERM');
  await consumer.disconnect();
  await admin.deleteTopics({ topics: [topic] }).catch(() => undefined);
  await admin.disconnect();
  await pool.end();
}
