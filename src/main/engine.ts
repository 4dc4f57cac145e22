// Wires the engine's workers onto the core dependencies. One process can run every role, or
// only some (`worker --only inventory,payments`), so a chaos run can kill one role at a time.
import type { Worker } from 'bullmq';
import { workerLimitsFrom } from '../../queues/job-options.ts';
import type { QueueName } from '../../queues/queues.ts';
import { createCouponsHandler } from '../coupons/coupons.worker.ts';
import { createInventoryHandler } from '../inventory/inventory.worker.ts';
import { createLedgerHandler } from '../ledger/ledger.worker.ts';
import { startModuleWorker, type MessageHandler } from '../outbox/module-worker.ts';
import { createOrderHandler, type OrderWorkerDeps } from '../orders/order.worker.ts';
import { createPaymentsHandler } from '../payments/payments.worker.ts';
import { createSimulatedProvider, simulatedProviderOptionsFrom } from '../payments/simulated.provider.ts';
import type { Metrics } from '../platform/metrics.ts';
import { isFinalStatus } from '../../machines/order.status.ts';
import type { CoreDeps } from './core-deps.ts';

export const workerRoles = ['orders', 'inventory', 'coupons', 'payments', 'ledger', 'sweeper'] as const;
export type WorkerRole = (typeof workerRoles)[number];

export interface RunningWorkers {
  workers: Worker[];
  close(): Promise<void>;
}

function handlerFor(
  core: CoreDeps,
  role: QueueName,
  onStep?: OrderWorkerDeps['onStep'],
  metrics?: Metrics,
): MessageHandler {
  const { config, logger } = core;
  // Every handler writes through handleOnce/withTransaction with the configured retry policy.
  const { pool, dispatcher, transaction } = core;
  const base = { pool, dispatcher, logger, transaction };
  switch (role) {
    case 'orders':
      return createOrderHandler({
        ...base,
        topic: config.KAFKA_TOPIC_ORDER_EVENTS,
        ...(onStep ? { onStep } : {}),
      });
    case 'inventory':
      return createInventoryHandler({
        ...base,
        lock: core.lock,
        lockTtlMs: config.REDLOCK_TTL_MS,
        onLock: (result) => metrics?.lockAcquisitions.inc({ result }),
      });
    case 'coupons':
      return createCouponsHandler(base);
    case 'payments':
      return createPaymentsHandler({
        ...base,
        provider: createSimulatedProvider(pool, simulatedProviderOptionsFrom(config)),
      });
    case 'ledger':
      return createLedgerHandler(base);
  }
}

/** Starts the workers of the given roles. The sweeper re-dispatches outbox rows left behind. */
export function startWorkers(
  core: CoreDeps,
  roles: readonly WorkerRole[],
  metrics?: Metrics,
  listener?: OrderWorkerDeps['onStep'],
): RunningWorkers {
  const onStep: OrderWorkerDeps['onStep'] = (step) => {
    if (metrics !== undefined) {
      metrics.orderSteps.inc({ status: step.status });
      if (isFinalStatus(step.status) && step.to !== step.from) {
        metrics.orderFinalLatency.observe({ status: step.status }, (Date.now() - step.createdAt.getTime()) / 1_000);
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
      pool: core.pool,
      logger: core.logger.child({ module: role }),
    };
    const worker = startModuleWorker(options, handlerFor(core, role, onStep, metrics));
    if (metrics !== undefined) {
      worker.on('failed', (job, error) => {
        const final =
          job === undefined || error.name === 'UnrecoverableError' || job.attemptsMade >= (job.opts.attempts ?? 1);
        (final ? metrics.jobsDeadLettered : metrics.jobRetries).inc({ queue: role });
      });
    }
    workers.push(worker);
  }
  let sweeping = roles.includes('sweeper');
  const sweeper = sweeping ? sweepLoop(core, () => sweeping) : Promise.resolve();
  return {
    workers,
    async close() {
      sweeping = false;
      await Promise.all(workers.map((w) => w.close()));
      await sweeper;
    },
  };
}

async function sweepLoop(core: CoreDeps, running: () => boolean): Promise<void> {
  while (running()) {
    try {
      const swept = await core.dispatcher.sweep();
      if (swept > 0) core.logger.info({ swept }, 'sweeper re-dispatched outbox rows');
    } catch (error) {
      core.logger.warn({ err: error }, 'sweep failed; next interval retries');
    }
    await new Promise((resolve) => setTimeout(resolve, core.config.OUTBOX_SWEEP_INTERVAL_MS));
  }
}
