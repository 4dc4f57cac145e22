// Mounts the operator's surfaces on the API app: the admin session (/admin/login, /admin/logout),
// then, behind the admin guard, Bull Board (/admin/queues), the state machine visualizer
// (/admin/machine) and its JSON (/api/v1/admin/...). The one call the API wiring makes.
import express, { type Express } from 'express';
import type { Queue } from 'bullmq';
import { fileURLToPath } from 'node:url';
import { outboxRelayJobOptions, outboxRelayQueueName } from '../../queues/outbox-relay.queue.ts';
import { createTokenVerifier } from '../platform/auth.ts';
import { createQueue } from '../platform/bullmq.ts';
import type { Metrics } from '../platform/metrics.ts';
import type { CoreDeps } from '../main/core-deps.ts';
import { adminGuard } from './admin.guard.ts';
import { sessionRouter } from './admin.session.ts';
import { bullBoardBasePath, bullBoardRouter } from './bull-board.ts';
import { startInvariantCheck, type InvariantCheck } from './invariants.check.ts';
import { machineRouter } from './machine.routes.ts';

const publicDirectory = fileURLToPath(new URL('./public/', import.meta.url));

/** Every queue the engine uses, the relay's included (the API process does not otherwise hold it). */
function engineQueues(core: CoreDeps): { queues: Queue[]; owned: Queue[] } {
  const relay = createQueue(outboxRelayQueueName, core.redis, core.config.QUEUE_PREFIX, outboxRelayJobOptions);
  return { queues: [...core.queues.values(), relay], owned: [relay] };
}

export interface MountedAdmin {
  invariants: InvariantCheck;
  /** Job counts of the queues only the admin holds (outbox-relay), for the scrape. */
  collectOwnedQueues(): Promise<void>;
  close(): Promise<void>;
}

export function mountAdmin(app: Express, core: CoreDeps, metrics: Metrics): MountedAdmin {
  const verifier = createTokenVerifier(core.config);
  const guard = adminGuard(verifier);
  const { queues, owned } = engineQueues(core);
  const invariants = startInvariantCheck({
    pool: core.pool,
    metrics,
    logger: core.logger.child({ module: 'invariants' }),
    queueNames: queues.map((q) => q.name),
    intervalMs: core.config.INVARIANT_CHECK_INTERVAL_MS,
    stuckAfterMs: core.config.ADMIN_STUCK_AFTER_MS,
    statementTimeoutMs: Math.max(1_000, core.config.INVARIANT_CHECK_INTERVAL_MS / 2),
  });
  app.use(sessionRouter({ verifier, sessionTtlSecondsMax: core.config.ADMIN_SESSION_TTL_S }));
  // Styles for the login form too, so served before the guard; nothing here is secret.
  app.use('/admin/static', express.static(publicDirectory, { index: false, maxAge: '5m' }));
  app.use(bullBoardBasePath, guard, bullBoardRouter(queues));
  app.use(machineRouter({ core, queues, guard, invariants }));
  return {
    invariants,
    async collectOwnedQueues() {
      for (const queue of owned) {
        const counts = await queue.getJobCounts('waiting', 'active', 'delayed', 'failed', 'completed');
        for (const [state, n] of Object.entries(counts)) metrics.queueJobs.set({ queue: queue.name, state }, n);
      }
    },
    async close() {
      await invariants.stop();
      await Promise.all(owned.map((queue) => queue.close()));
    },
  };
}
