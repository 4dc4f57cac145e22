// The prom-client registry and the engine's metrics. Counters and histograms are updated where
// things happen. Gauges that describe PostgreSQL's truth are set by two readers in the API
// process: cheap, indexed ones at scrape time (outbox depth and age, parked rows, queue depths:
// src/admin/state.collect.ts), and the business invariants by a periodic check with a bounded
// cost, never per scrape (src/admin/invariants.check.ts). Every name starts order_engine_.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
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
const orderStatuses = ['pending', 'confirmed', 'rejected', 'failed', 'expired', 'cancelling', 'cancelled'];

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
    ...['refunded', 'voided', 'nothing_to_refund', ...failures].map((outcome) => ({ operation: 'refund', outcome })),
    ...['found', 'not_found', ...failures].map((outcome) => ({ operation: 'status', outcome })),
  ],
} satisfies Partial<Record<keyof Metrics, Array<Record<string, string>>>>;

function precreate(metrics: Metrics): void {
  for (const [name, labelSets] of Object.entries(knownLabelValues)) {
    const counter = metrics[name as keyof typeof knownLabelValues] as Counter<string>;
    for (const labels of labelSets) counter.inc(labels, 0);
  }
}

export function createMetrics(collectDefaults = true): Metrics {
  const registry = new Registry();
  const registers = [registry];
  if (collectDefaults) collectDefaultMetrics({ register: registry, prefix: 'order_engine_' });
  if (collectDefaults) removeMisnamedDefaults(registry);
  const counter = <L extends string>(name: string, help: string, labelNames: L[] = []) =>
    new Counter<L>({ name, help, labelNames, registers });
  const gauge = <L extends string>(name: string, help: string, labelNames: L[] = []) =>
    new Gauge<L>({ name, help, labelNames, registers });
  const histogram = <L extends string>(name: string, help: string, labelNames: L[], buckets: number[]) =>
    new Histogram<L>({ name, help, labelNames, buckets, registers });
  const metrics: Metrics = {
    registry,
    ordersCreated: counter('order_engine_orders_created_total', 'Orders accepted by the API (replays not counted)'),
    ordersFinished: counter('order_engine_orders_finished_total', 'Orders that reached a final status, by reason', [
      'status',
      'reason',
    ]),
    orderFinalLatency: histogram(
      'order_engine_order_final_latency_seconds',
      'Time from order creation to a final state',
      ['status'],
      latencyBucketsSeconds,
    ),
    orderSteps: counter('order_engine_order_steps_total', 'Committed order transitions', ['status']),
    ordersByStatus: gauge('order_engine_orders', 'Orders by status (periodic check)', ['status']),
    httpRequestDuration: histogram(
      'order_engine_http_request_duration_seconds',
      'HTTP request duration by route template and status',
      ['method', 'route', 'status'],
      httpBucketsSeconds,
    ),
    queueJobs: gauge('order_engine_queue_jobs', 'BullMQ jobs by queue and state', ['queue', 'state']),
    jobDuration: histogram(
      'order_engine_job_duration_seconds',
      'Time a worker spent on a job',
      ['queue', 'result'],
      jobBucketsSeconds,
    ),
    jobRetries: counter('order_engine_job_retries_total', 'Job attempts that failed and will retry', ['queue']),
    jobsDeadLettered: counter('order_engine_jobs_dead_lettered_total', 'Jobs that exhausted their attempts', ['queue']),
    deadLetters: gauge('order_engine_dead_letters', 'Dead letters awaiting a redrive', ['queue']),
    lockAcquisitions: counter('order_engine_lock_acquisitions_total', 'Redlock acquisitions by result', ['result']),
    paymentProviderCalls: counter('order_engine_payment_provider_calls_total', 'Payment provider calls by outcome', [
      'operation',
      'outcome',
    ]),
    outboxDepth: gauge('order_engine_outbox_depth', 'Outbox rows not yet delivered', ['destination']),
    outboxOldestAgeSeconds: gauge(
      'order_engine_outbox_oldest_age_seconds',
      'Age of the oldest undelivered outbox row',
      ['destination'],
    ),
    outboxParked: gauge('order_engine_outbox_parked', 'Parked outbox rows awaiting replay'),
    relayPublished: counter('order_engine_relay_published_total', 'Outbox rows published to Kafka'),
    relayParked: counter('order_engine_relay_parked_total', 'Outbox rows parked after failing to publish'),
    rowsPruned: counter('order_engine_retention_pruned_rows_total', 'Rows deleted by the retention job, by table', [
      'table',
    ]),
    invariantHolds: gauge('order_engine_invariant_holds', '1 when the business invariant holds, 0 when it is broken', [
      'invariant',
    ]),
    ledgerImbalance: gauge(
      'order_engine_invariant_ledger_imbalance',
      'Debits minus credits over all ledger entries, per currency (must be 0)',
      ['currency'],
    ),
    oversoldUnits: gauge(
      'order_engine_invariant_oversold_units',
      'Units sold or held beyond stock on hand (must be 0)',
    ),
    finalOrderHeldUnits: gauge(
      'order_engine_invariant_final_order_held_units',
      'Units still held by reservations of orders in a final status (must be 0)',
    ),
    stuckOrders: gauge('order_engine_stuck_orders', 'In-flight orders untouched past ADMIN_STUCK_AFTER_MS'),
    doubleCharges: gauge(
      'order_engine_invariant_double_charges',
      'Orders with more than one successful charge at the provider (must be 0)',
    ),
    invariantCheckDuration: gauge('order_engine_invariant_check_duration_seconds', 'Duration of the last check'),
    invariantCheckTimestamp: gauge(
      'order_engine_invariant_check_timestamp_seconds',
      'Unix time of the last successful invariant check',
    ),
    invariantCheckFailures: counter('order_engine_invariant_check_failures_total', 'Invariant checks that failed'),
  };
  precreate(metrics);
  return metrics;
}
