// Mounts the operator's surfaces on the API app: the admin session (/admin/login, /admin/logout),
// then, behind the operator guard, the landing page (/admin), the orders list, the audit trail,
// Bull Board (/admin/queues), the state machine visualizer (/admin/machine) and their JSON
// (/api/v1/admin/...). The one call the API wiring makes.
import express, { type Express, type NextFunction, type Request, type Response } from 'express';
import type { Queue } from 'bullmq';
import { fileURLToPath } from 'node:url';
import { orderMachine } from '../../machines/order.machine.ts';
import { outboxRelayJobOptions, outboxRelayQueueName } from '../../queues/outbox-relay.queue.ts';
import { actorOf } from '../audit/audit.actions.ts';
import { recordAudit } from '../audit/audit.sql.ts';
import { createTokenVerifier, isReadOnlyMethod } from '../platform/auth.ts';
import { createQueue } from '../platform/bullmq.ts';
import type { Pool } from '../platform/db.ts';
import type { Logger } from '../platform/logger.ts';
import type { Metrics } from '../platform/metrics.ts';
import type { CoreDeps } from '../main/core-deps.ts';
import { adminGuard } from './admin.guard.ts';
import { sessionRouter } from './admin.session.ts';
import { bullBoardBasePath, bullBoardRouter } from './bull-board.ts';
import { consoleRouter } from './console.routes.ts';
import { startInvariantCheck, type InvariantCheck } from './invariants.check.ts';
import { machineGraph } from './machine.graph.ts';
import { machineRouter } from './machine.routes.ts';
import type { ViewDeps } from './machine.view.ts';

const publicDirectory = fileURLToPath(new URL('./public/', import.meta.url));
const stuckListedMax = 50;

/**
 * Every admin page and asset loads from this host only: a third-party reference (a CDN, a web
 * font) is refused by the browser before any request leaves, whatever a library's page links.
 */
const contentSecurityPolicy = [
  "default-src 'self'",
  "img-src 'self' data:",
  "style-src 'self' 'unsafe-inline'",
  "font-src 'self' data:",
  "frame-ancestors 'none'",
  "base-uri 'self'",
  "form-action 'self'",
].join('; ');

/** Every queue the engine uses, the relay's included (the API process does not otherwise hold it). */
function engineQueues(core: CoreDeps): { queues: Queue[]; owned: Queue[] } {
  const relay = createQueue(outboxRelayQueueName, core.redis, core.config.QUEUE_PREFIX, outboxRelayJobOptions);
  return { queues: [...core.queues.values(), relay], owned: [relay] };
}

/**
 * A Bull Board action (retry, remove, clean, pause, ...) is an audit row with the HTTP status it
 * got, written once it is answered: Bull Board's handlers run no transaction of ours to join.
 */
function auditBoardActions(pool: Pool, logger: Logger) {
  return (req: Request, res: Response, next: NextFunction): void => {
    if (isReadOnlyMethod(req.method) || req.admin === undefined) return next();
    const who = req.admin;
    res.on('finish', () => {
      recordAudit(pool, {
        ...actorOf(who),
        action: 'queue.action',
        target: `${req.method} ${req.path}`.slice(0, 300),
        outcome: res.statusCode < 400 ? 'ok' : `http_${res.statusCode}`,
        detail: { method: req.method, path: req.path },
      }).catch((error: unknown) => logger.error({ err: error }, 'audit row of a Bull Board action not written'));
    });
    next();
  };
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
  const graph = machineGraph(orderMachine);
  const byName = new Map(queues.map((q) => [q.name, q]));
  const view: ViewDeps = {
    pool: core.pool,
    redis: core.redis,
    queues: byName,
    graph,
    stuckAfterMs: core.config.ADMIN_STUCK_AFTER_MS,
    stuckListedMax,
    finalCounts: () => {
      const latest = invariants.latest();
      return { counts: latest?.facts.ordersByStatus ?? new Map(), at: latest?.at ?? null };
    },
  };
  app.use('/admin', (_req, res, next) => {
    res.setHeader('Content-Security-Policy', contentSecurityPolicy);
    next();
  });
  app.use(sessionRouter({ verifier, sessionTtlSecondsMax: core.config.ADMIN_SESSION_TTL_S, db: core.pool }));
  // Styles for the login form too, so served before the guard; nothing here is secret.
  app.use('/admin/static', express.static(publicDirectory, { index: false, maxAge: '5m' }));
  const boardAudit = auditBoardActions(core.pool, core.logger.child({ module: 'audit' }));
  app.use(bullBoardBasePath, guard, boardAudit, bullBoardRouter(queues));
  app.use(consoleRouter({ guard, view, invariants }));
  app.use(machineRouter({ core, queues: byName, guard, graph, view }));
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
