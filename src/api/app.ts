// The express app: JSON API under /api/v1, health, readiness and metrics. Built from explicit
// dependencies so tests can run it in-process against the real servers.
import express, { type Express } from 'express';
import type { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Logger } from '../platform/logger.ts';
import type { Metrics } from '../platform/metrics.ts';
import { collectState } from '../admin/state.collect.ts';
import type { HandleOnceDeps } from '../messaging/handle-once.ts';
import { catalogRouter } from './catalog.routes.ts';
import { errorHandler } from './errors.ts';
import { ledgerRouter } from './ledger.routes.ts';
import { ordersRouter, type OrdersRoutesDeps } from './orders.routes.ts';

export interface AppDeps extends HandleOnceDeps {
  redis: Redis;
  queues: ReadonlyMap<string, Queue>;
  logger: Logger;
  metrics: Metrics;
  orders: Omit<OrdersRoutesDeps, keyof HandleOnceDeps>;
  /** Extra readiness checks (the relay's Kafka link, say): name -> 'ok' | 'degraded' | 'down'. */
  readinessChecks?: Record<string, () => Promise<'ok' | 'degraded' | 'down'>>;
  mount?: (app: Express) => void;
}

export function createApp(deps: AppDeps): Express {
  const app = express();
  app.disable('x-powered-by');
  app.use(express.json({ limit: '64kb' }));

  app.get('/health', (_req, res) => {
    res.json({ status: 'ok' });
  });
  app.get('/ready', async (_req, res) => {
    const checks: Record<string, string> = {};
    checks.postgres = await deps.pool.query('SELECT 1').then(
      () => 'ok',
      () => 'down',
    );
    checks.redis = await deps.redis.ping().then(
      () => 'ok',
      () => 'down',
    );
    for (const [name, check] of Object.entries(deps.readinessChecks ?? {}))
      checks[name] = await check().catch(() => 'down' as const);
    const down = checks.postgres === 'down' || checks.redis === 'down';
    const degraded = Object.values(checks).some((c) => c !== 'ok');
    res.status(down ? 503 : 200).json({ status: down ? 'down' : degraded ? 'degraded' : 'ok', checks });
  });
  app.get('/metrics', async (_req, res) => {
    await collectState(deps.pool, deps.queues, deps.metrics).catch((error: unknown) =>
      deps.logger.warn({ err: error }, 'state collection failed'),
    );
    res.set('Content-Type', deps.metrics.registry.contentType);
    res.send(await deps.metrics.registry.metrics());
  });

  app.use(
    '/api/v1/orders',
    ordersRouter({
      pool: deps.pool,
      dispatcher: deps.dispatcher,
      ...(deps.transaction ? { transaction: deps.transaction } : {}),
      ...deps.orders,
    }),
  );
  app.use('/api/v1/products', catalogRouter(deps.pool));
  app.use('/api/v1', ledgerRouter(deps.pool));
  deps.mount?.(app);
  app.use((_req, res) => {
    res.status(404).json({ error: { code: 'not_found', message: 'no such route' } });
  });
  app.use(errorHandler(deps.logger));
  return app;
}
