// Wires the engine's workers onto the core dependencies. One process can run every role, or
// only some (`worker --only inventory,payments`), so a chaos run can kill one role at a time.
import type { Worker } from 'bullmq';
import { workerLimitsFrom } from '../../queues/job-options.ts';
import type { QueueName } from '../../queues/queues.ts';
import { createCouponsRuntime } from '../coupons/coupons.worker.ts';
import { createInventoryRuntime } from '../inventory/inventory.worker.ts';
import { createLedgerRuntime } from '../ledger/ledger.worker.ts';
import { startModuleWorker } from '../messaging/module-worker.ts';
import type { ModuleRuntime } from '../messaging/handle-once.ts';
import { startSweeper } from '../messaging/sweeper.ts';
import { createOrderRuntime } from '../orders/order.worker.ts';
import { orderReceiver, type StepInfo } from '../orders/order.actor.ts';
import { assertEveryOrderHasPath } from '../orders/machine-check.ts';
import { createPaymentsRuntime } from '../payments/payments.worker.ts';
import { createSimulatedProvider, simulatedProviderOptionsFrom } from '../payments/simulated.provider.ts';
import { instrumentProvider } from '../payments/provider.metrics.ts';
import type { Metrics } from '../platform/metrics.ts';
import { isFinalStatus } from '../../machines/order.status.ts';
import type { CoreDeps } from './core-deps.ts';
import type { WorkerRole } from './roles.ts';

export interface RunningWorkers {
  workers: Worker[];
  close(): Promise<void>;
}

function runtimeFor(
  core: CoreDeps,
  role: QueueName,
  onStep: (step: StepInfo) => void,
  metrics?: Metrics,
): ModuleRuntime {
  const { config, logger } = core;
  // Every runtime writes through handleBatch/withTransaction with the configured retry policy. A
  // module's answer to an order is applied by the order actor in the module's own transaction.
  const { pool, dispatcher, transaction } = core;
  const topic = config.KAFKA_TOPIC_ORDER_EVENTS;
  const { machine } = core;
  const base = { pool, dispatcher, logger, transaction, receiver: orderReceiver({ topic, onStep, machine }) };
  switch (role) {
    case 'orders':
      return createOrderRuntime({ ...base, topic, onStep, machine });
    case 'inventory':
      return createInventoryRuntime({
        ...base,
        lock: core.lock,
        lockTtlMs: config.REDLOCK_TTL_MS,
        onLock: (result) => metrics?.lockAcquisitions.inc({ result }),
      });
    case 'coupons':
      return createCouponsRuntime(base);
    case 'payments':
      return createPaymentsRuntime({
        ...base,
        provider: instrumentProvider(
          createSimulatedProvider(pool, simulatedProviderOptionsFrom(config)),
          (operation, outcome) => metrics?.paymentProviderCalls.inc({ operation, outcome }),
        ),
      });
    case 'ledger':
      return createLedgerRuntime(base);
  }
}

/** Throws MachineCheckFailedError when a stored order has no path into the process's machine definition. */
async function checkMachineFits(core: CoreDeps): Promise<void> {
  const check = await assertEveryOrderHasPath(core.pool, core.machine);
  const migrating = check.occupied.filter((o) => o.machineVersion !== check.version);
  if (migrating.length > 0) {
    core.logger.info(
      { version: check.version, migrating: migrating.map((o) => `v${o.machineVersion} ${o.state} -> ${o.target}`) },
      'orders of older machine versions are migrated as they step',
    );
  }
}

/** Counts a role's retries and dead letters, and its jobs' time as BullMQ recorded it. */
function observeJobs(worker: Worker, role: WorkerRole, metrics: Metrics): void {
  worker.on('failed', (job, error) => {
    const final =
      job === undefined || error.name === 'UnrecoverableError' || job.attemptsMade >= (job.opts.attempts ?? 1);
    (final ? metrics.jobsDeadLettered : metrics.jobRetries).inc({ queue: role });
  });
  // A group-committed batch's jobs share their batch's time.
  const observeJob = (
    job: { processedOn?: number | undefined; finishedOn?: number | undefined } | undefined,
    result: string,
  ) => {
    if (job?.processedOn !== undefined && job.finishedOn !== undefined)
      metrics.jobDuration.observe({ queue: role, result }, (job.finishedOn - job.processedOn) / 1_000);
  };
  worker.on('completed', (job) => observeJob(job, 'completed'));
  worker.on('failed', (job) => observeJob(job, 'failed'));
}

/**
 * Starts the workers of the given roles. The sweeper re-dispatches outbox rows left behind. Every
 * worker but the sweeper steps orders, so first every stored order must have a path into the
 * deployed machine definition: when one has none, this throws MachineCheckFailedError naming the
 * orders (`npm run machine -- check` prints the same) and starts nothing, rather than strand them.
 */
export async function startWorkers(
  core: CoreDeps,
  roles: readonly WorkerRole[],
  metrics?: Metrics,
  listener?: (step: StepInfo) => void,
): Promise<RunningWorkers> {
  if (roles.some((role) => role !== 'sweeper')) await checkMachineFits(core);
  const onStep = (step: StepInfo) => {
    if (metrics !== undefined) {
      metrics.orderSteps.inc({ status: step.status });
      if (isFinalStatus(step.status) && step.to !== step.from) {
        metrics.orderFinalLatency.observe({ status: step.status }, (Date.now() - step.createdAt.getTime()) / 1_000);
        metrics.ordersFinished.inc({ status: step.status, reason: step.reason ?? 'none' });
      }
    }
    listener?.(step);
  };
  const workers: Worker[] = [];
  for (const role of roles) {
    if (role === 'sweeper') continue;
    const options = {
      queue: role,
      connection: core.redis,
      prefix: core.config.QUEUE_PREFIX,
      limits: workerLimitsFrom(core.config),
      groupCommit: {
        batchSizeMax: core.config.BATCH_SIZE_MAX,
        batchesInFlightMax: core.config.BATCHES_IN_FLIGHT_MAX,
        lingerMs: core.config.BATCH_LINGER_MS,
      },
      pool: core.pool,
      logger: core.logger.child({ module: role }),
      // An undo that ends failed answers its order in the dead letter's transaction.
      escalation: {
        pool: core.pool,
        dispatcher: core.dispatcher,
        transaction: core.transaction,
        receiver: orderReceiver({ topic: core.config.KAFKA_TOPIC_ORDER_EVENTS, onStep, machine: core.machine }),
      },
    };
    const worker = startModuleWorker(options, runtimeFor(core, role, onStep, metrics));
    if (metrics !== undefined) observeJobs(worker, role, metrics);
    workers.push(worker);
  }
  const sweeper = roles.includes('sweeper')
    ? startSweeper(core.dispatcher, core.logger.child({ module: 'sweeper' }), core.config.OUTBOX_SWEEP_INTERVAL_MS)
    : null;
  return {
    workers,
    async close() {
      await sweeper?.stop();
      await Promise.all(workers.map((w) => w.close()));
    },
  };
}
