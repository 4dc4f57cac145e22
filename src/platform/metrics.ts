// The prom-client registry and the engine's metrics. Gauges that describe PostgreSQL's truth
// (orders by status, outbox depth and age, invariants) are read at scrape time by collectors
// that main/ registers; counters and histograms are updated where things happen.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export interface Metrics {
  registry: Registry;
  orderFinalLatency: Histogram<'status'>;
  orderSteps: Counter<'status'>;
  lockAcquisitions: Counter<'result'>;
  jobRetries: Counter<'queue'>;
  jobsDeadLettered: Counter<'queue'>;
  ordersByStatus: Gauge<'status'>;
  outboxDepth: Gauge<'destination'>;
  outboxOldestAgeSeconds: Gauge<'destination'>;
  queueJobs: Gauge<'queue' | 'state'>;
  invariantHolds: Gauge<'invariant'>;
  relayPublished: Counter;
  relayParked: Counter;
  outboxParked: Gauge;
}

export function createMetrics(collectDefaults = true): Metrics {
  const registry = new Registry();
  if (collectDefaults) collectDefaultMetrics({ register: registry, prefix: 'order_engine_' });
  const registers = [registry];
  return {
    registry,
    orderFinalLatency: new Histogram({
      name: 'order_engine_order_final_latency_seconds',
      help: 'Time from order creation to a final state',
      labelNames: ['status'],
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300],
      registers,
    }),
    orderSteps: new Counter({
      name: 'order_engine_order_steps_total',
      help: 'Committed order transitions',
      labelNames: ['status'],
      registers,
    }),
    lockAcquisitions: new Counter({
      name: 'order_engine_lock_acquisitions_total',
      help: 'Redlock acquisitions by result',
      labelNames: ['result'],
      registers,
    }),
    jobRetries: new Counter({
      name: 'order_engine_job_retries_total',
      help: 'Job attempts that failed and will retry',
      labelNames: ['queue'],
      registers,
    }),
    jobsDeadLettered: new Counter({
      name: 'order_engine_jobs_dead_lettered_total',
      help: 'Jobs that exhausted their attempts',
      labelNames: ['queue'],
      registers,
    }),
    ordersByStatus: new Gauge({
      name: 'order_engine_orders',
      help: 'Orders by status',
      labelNames: ['status'],
      registers,
    }),
    outboxDepth: new Gauge({
      name: 'order_engine_outbox_depth',
      help: 'Outbox rows not yet delivered',
      labelNames: ['destination'],
      registers,
    }),
    outboxOldestAgeSeconds: new Gauge({
      name: 'order_engine_outbox_oldest_age_seconds',
      help: 'Age of the oldest undelivered outbox row',
      labelNames: ['destination'],
      registers,
    }),
    queueJobs: new Gauge({
      name: 'order_engine_queue_jobs',
      help: 'BullMQ jobs by queue and state',
      labelNames: ['queue', 'state'],
      registers,
    }),
    relayPublished: new Counter({
      name: 'order_engine_relay_published_total',
      help: 'Outbox rows published to Kafka',
      registers,
    }),
    relayParked: new Counter({
      name: 'order_engine_relay_parked_total',
      help: 'Outbox rows parked after failing to publish',
      registers,
    }),
    outboxParked: new Gauge({
      name: 'order_engine_outbox_parked',
      help: 'Parked outbox rows awaiting replay',
      registers,
    }),
    invariantHolds: new Gauge({
      name: 'order_engine_invariant_holds',
      help: '1 when the business invariant holds, 0 when it is broken',
      labelNames: ['invariant'],
      registers,
    }),
  };
}
