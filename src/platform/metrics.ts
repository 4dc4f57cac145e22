// The prom-client registry and the engine's metrics. Counters and histograms are updated where
// things happen. Gauges that describe PostgreSQL's truth are set by two readers in the API
// process: cheap, indexed ones at scrape time (outbox depth and age, parked rows, queue depths:
// src/observability/state.collect.ts), and the business invariants by a periodic check with a
// bounded cost, never per scrape (src/observability/invariants.check.ts). Every name starts
// order_engine_.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { orderStatuses } from '../../machines/order.status.ts';
import { queueNames } from '../../queues/queues.ts';

export interface Metrics {
  registry: Registry;
  // orders
  ordersCreated: Counter;
  ordersFinished: Counter<'status' | 'reason'>;
  orderFinalLatency: Histogram<'status'>;
  orderSteps: Counter<'status'>;
  ordersByStatus: Gauge<'status'>;
  // HTTP
  httpRequestDuration: Histogram<'method' | 'route' | 'status'>;
  // queues and jobs
  queueJobs: Gauge<'queue' | 'state'>;
  jobDuration: Histogram<'queue' | 'result'>;
  jobRetries: Counter<'queue'>;
  jobsDeadLettered: Counter<'queue'>;
  deadLetters: Gauge<'queue'>;
  // locks and the payment provider
  lockAcquisitions: Counter<'result'>;
  paymentProviderCalls: Counter<'operation' | 'outcome'>;
  // outbox and relay
  outboxDepth: Gauge<'destination'>;
  outboxOldestAgeSeconds: Gauge<'destination'>;
  outboxParked: Gauge;
  relayPublished: Counter;
  relayParked: Counter;
  // retention (src/retention/retention.job.ts pre-creates a series per table)
  rowsPruned: Counter<'table'>;
  // business invariants (periodic check)
  invariantHolds: Gauge<'invariant'>;
  ledgerImbalance: Gauge<'currency'>;
  oversoldUnits: Gauge;
  finalOrderHeldUnits: Gauge;
  stuckOrders: Gauge;
  ordersNeedingAttention: Gauge;
  doubleCharges: Gauge;
  invariantCheckDuration: Gauge;
  invariantCheckTimestamp: Gauge;
  invariantCheckFailures: Counter;
}

const latencyBucketsSeconds = [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300];
const httpBucketsSeconds = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
const jobBucketsSeconds = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10, 60];

/**
 * prom-client exports three gauges whose names end in _total, which `promtool check metrics`
 * rejects (only counters may). order_engine_nodejs_active_resources{type} says the same, by type.
 */
function removeMisnamedDefaults(registry: Registry): void {
  for (const name of ['active_handles', 'active_requests', 'active_resources'])
    registry.removeSingleMetric(`order_engine_nodejs_${name}_total`);
}

const failures = ['transient_error', 'lost_response', 'error'];

/**
 * Every label value the engine is known to use, per labelled counter. A counter series that does
 * not exist until its first event makes increase() and rate() miss that first event (there is no
 * earlier sample to compare with), which is exactly the dead letter or failure an alert is for: so
 * each series starts at 0. A value not listed still works; it just appears on first use.
 */
export const knownLabelValues = {
  ordersFinished: [
    { status: 'confirmed', reason: 'none' },
    ...['out_of_stock', 'coupon_invalid', 'coupon_already_used', 'coupon_expired'].map((reason) => ({
      status: 'rejected',
      reason,
    })),
    ...['payment_declined', 'payment_timeout'].map((reason) => ({ status: 'failed', reason })),
    { status: 'expired', reason: 'reservation_expired' },
    ...['cancelled_by_customer', 'cancelled_by_operator'].map((reason) => ({ status: 'cancelled', reason })),
  ],
  orderSteps: orderStatuses.map((status) => ({ status })),
  jobRetries: queueNames.map((queue) => ({ queue })),
  jobsDeadLettered: queueNames.map((queue) => ({ queue })),
  lockAcquisitions: ['acquired', 'contended', 'failed'].map((result) => ({ result })),
  paymentProviderCalls: [
    ...['succeeded', 'declined', 'voided', ...failures].map((outcome) => ({ operation: 'charge', outcome })),
    ...['refunded', 'voided', 'nothing_to_refund', 'refused', ...failures].map((outcome) => ({
      operation: 'refund',
      outcome,
    })),
    ...['found', 'not_found', ...failures].map((outcome) => ({ operation: 'status', outcome })),
  ],
} satisfies Partial<Record<keyof Metrics, Array<Record<string, string>>>>;

function precreate(metrics: Metrics): void {
  for (const [name, labelSets] of Object.entries(knownLabelValues)) {
    const counter = metrics[name as keyof typeof knownLabelValues] as Counter<string>;
    for (const labels of labelSets) counter.inc(labels, 0);
  }
}

/** The three kinds of metric, each registered in the engine's registry. */
interface Makers {
  counter: <L extends string>(name: string, help: string, labelNames?: L[]) => Counter<L>;
  gauge: <L extends string>(name: string, help: string, labelNames?: L[]) => Gauge<L>;
  histogram: <L extends string>(name: string, help: string, labelNames: L[], buckets: number[]) => Histogram<L>;
}

/** Orders and the HTTP requests that place them. */
function orderMetrics(make: Makers) {
  return {
    ordersCreated: make.counter(
      'order_engine_orders_created_total',
      'Orders accepted by the API (replays not counted)',
    ),
    ordersFinished: make.counter(
      'order_engine_orders_finished_total',
      'Orders that reached a final status, by reason',
      ['status', 'reason'],
    ),
    orderFinalLatency: make.histogram(
      'order_engine_order_final_latency_seconds',
      'Time from order creation to a final state',
      ['status'],
      latencyBucketsSeconds,
    ),
    orderSteps: make.counter('order_engine_order_steps_total', 'Committed order transitions', ['status']),
    ordersByStatus: make.gauge('order_engine_orders', 'Orders by status (periodic check)', ['status']),
    httpRequestDuration: make.histogram(
      'order_engine_http_request_duration_seconds',
      'HTTP request duration by route template and status',
      ['method', 'route', 'status'],
      httpBucketsSeconds,
    ),
  };
}

/** Queues, jobs and dead letters, locks, and the payment provider. */
function jobMetrics(make: Makers) {
  return {
    queueJobs: make.gauge('order_engine_queue_jobs', 'BullMQ jobs by queue and state', ['queue', 'state']),
    jobDuration: make.histogram(
      'order_engine_job_duration_seconds',
      'Time a worker spent on a job',
      ['queue', 'result'],
      jobBucketsSeconds,
    ),
    jobRetries: make.counter('order_engine_job_retries_total', 'Job attempts that failed and will retry', ['queue']),
    jobsDeadLettered: make.counter('order_engine_jobs_dead_lettered_total', 'Jobs that exhausted their attempts', [
      'queue',
    ]),
    deadLetters: make.gauge('order_engine_dead_letters', 'Dead letters awaiting a redrive', ['queue']),
    lockAcquisitions: make.counter('order_engine_lock_acquisitions_total', 'Redlock acquisitions by result', [
      'result',
    ]),
    paymentProviderCalls: make.counter(
      'order_engine_payment_provider_calls_total',
      'Payment provider calls by outcome',
      ['operation', 'outcome'],
    ),
  };
}

/** The outbox, the relay and retention. */
function outboxMetrics(make: Makers) {
  return {
    outboxDepth: make.gauge('order_engine_outbox_depth', 'Outbox rows not yet delivered', ['destination']),
    outboxOldestAgeSeconds: make.gauge(
      'order_engine_outbox_oldest_age_seconds',
      'Age of the oldest undelivered outbox row',
      ['destination'],
    ),
    outboxParked: make.gauge('order_engine_outbox_parked', 'Parked outbox rows awaiting replay'),
    relayPublished: make.counter('order_engine_relay_published_total', 'Outbox rows published to Kafka'),
    relayParked: make.counter('order_engine_relay_parked_total', 'Outbox rows parked after failing to publish'),
    rowsPruned: make.counter(
      'order_engine_retention_pruned_rows_total',
      'Rows deleted by the retention job, by table',
      ['table'],
    ),
  };
}

/** The business invariants, set by the periodic check. */
function invariantMetrics(make: Makers) {
  return {
    invariantHolds: make.gauge(
      'order_engine_invariant_holds',
      '1 when the business invariant holds, 0 when it is broken',
      ['invariant'],
    ),
    ledgerImbalance: make.gauge(
      'order_engine_invariant_ledger_imbalance',
      'Debits minus credits over all ledger entries, per currency (must be 0)',
      ['currency'],
    ),
    oversoldUnits: make.gauge(
      'order_engine_invariant_oversold_units',
      'Units sold or held beyond stock on hand (must be 0)',
    ),
    finalOrderHeldUnits: make.gauge(
      'order_engine_invariant_final_order_held_units',
      'Units still held by reservations of orders in a final status (must be 0)',
    ),
    stuckOrders: make.gauge('order_engine_stuck_orders', 'In-flight orders untouched past ADMIN_STUCK_AFTER_MS'),
    ordersNeedingAttention: make.gauge(
      'order_engine_orders_needing_attention',
      'Orders halted in needs_attention: an undo failed for good and waits for an operator',
    ),
    doubleCharges: make.gauge(
      'order_engine_invariant_double_charges',
      'Orders with more than one successful charge at the provider (must be 0)',
    ),
    invariantCheckDuration: make.gauge('order_engine_invariant_check_duration_seconds', 'Duration of the last check'),
    invariantCheckTimestamp: make.gauge(
      'order_engine_invariant_check_timestamp_seconds',
      'Unix time of the last successful invariant check',
    ),
    invariantCheckFailures: make.counter('order_engine_invariant_check_failures_total', 'Invariant checks that failed'),
  };
}

export function createMetrics(collectDefaults = true): Metrics {
  const registry = new Registry();
  const registers = [registry];
  if (collectDefaults) collectDefaultMetrics({ register: registry, prefix: 'order_engine_' });
  if (collectDefaults) removeMisnamedDefaults(registry);
  const makers: Makers = {
    counter: (name, help, labelNames = []) => new Counter({ name, help, labelNames, registers }),
    gauge: (name, help, labelNames = []) => new Gauge({ name, help, labelNames, registers }),
    histogram: (name, help, labelNames, buckets) => new Histogram({ name, help, labelNames, buckets, registers }),
  };
  // Registered in this order, which is the order /metrics lists them in.
  const metrics: Metrics = {
    registry,
    ...orderMetrics(makers),
    ...jobMetrics(makers),
    ...outboxMetrics(makers),
    ...invariantMetrics(makers),
  };
  precreate(metrics);
  return metrics;
}
