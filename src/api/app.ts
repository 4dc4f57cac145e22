// The express app: JSON API under /api/v1 behind authentication and rate limits; health,
// readiness, metrics, the OpenAPI document and its docs page open. Built from explicit
// dependencies so tests can run it in-process against the real servers.
import express, { type Express, type RequestHandler } from 'express';
import type { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import type { TokenVerifier } from '../platform/auth.ts';
import { pingDatabase } from '../platform/db.ts';
import type { Logger } from '../platform/logger.ts';
import type { Metrics } from '../platform/metrics.ts';
import { collectState } from '../observability/state.collect.ts';
import type { HandleOnceDeps } from '../messaging/handle-once.ts';
import { createAuthGuards } from './auth.middleware.ts';
import { catalogRoutes } from './catalog.routes.ts';
import { docsRouter } from './docs.routes.ts';
import { errorHandler, sendError } from './errors.ts';
import { ledgerRoutes } from './ledger.routes.ts';
import { openApiDocument } from './openapi.ts';
import { ordersRoutes, type OrdersRoutesDeps } from './orders.routes.ts';
import { createRateLimiters, type RateLimitSettings } from './rate-limit.middleware.ts';
import { requestLog } from './request-log.middleware.ts';
import { RouteBook, type RouteSpec } from './route-book.ts';

export interface AppDeps extends HandleOnceDeps {
  redis: Redis;
  queues: ReadonlyMap<string, Queue>;
  logger: Logger;
  metrics: Metrics;
  orders: Omit<OrdersRoutesDeps, keyof HandleOnceDeps>;
  tokens: TokenVerifier;
  rateLimit: RateLimitSettings;
  /** express 'trust proxy': how many proxies in front may set X-Forwarded-For (0: none). */
  trustProxyHops?: number;
  /** Extra readiness checks (the relay's Kafka link, say): name -> 'ok' | 'degraded' | 'down'. */
  readinessChecks?: Record<string, () => Promise<'ok' | 'degraded' | 'down'>>;
}

export interface AppOptions {
  /** Adds routes of other surfaces (admin pages) after auth is set up, before the 404 handler. */
  mount?: (app: Express, guards: { requireAuth: RequestHandler; requireAdmin: RequestHandler }) => void;
  /** Specs of /api/v1 routes that `mount` serves, for the OpenAPI document. */
  documented?: readonly RouteSpec[];
}

const readyCheckTimeoutMs = 2_000;

function withTimeout<T>(work: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}

export function createApp(deps: AppDeps, options: AppOptions = {}): Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', deps.trustProxyHops ?? 0);
  app.use(requestLog(deps.logger));
  app.use(express.json({ limit: '64kb' }));

  app.get('/health', (_req, res) => {
    res.json({ status: 'ok' });
  });
  app.get('/ready', async (_req, res) => {
    // Every check answers within readyCheckTimeoutMs: a Redis that is away would otherwise hold the
    // ping in ioredis's offline queue, and the probe would hang instead of saying "down".
    const probe = (check: () => Promise<unknown>) =>
      withTimeout(check(), readyCheckTimeoutMs).then(
        () => 'ok' as const,
        () => 'down' as const,
      );
    const checks: Record<string, string> = {};
    [checks.postgres, checks.redis] = await Promise.all([
      probe(() => pingDatabase(deps.pool)),
      probe(() => deps.redis.ping()),
    ]);
    for (const [name, check] of Object.entries(deps.readinessChecks ?? {}))
      checks[name] = await withTimeout(check(), readyCheckTimeoutMs).catch(() => 'down' as const);
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

  const guards = createAuthGuards(deps.tokens);
  const limiters = createRateLimiters(deps.redis, deps.rateLimit);
  const book = new RouteBook(guards, limiters);
  ordersRoutes(book, {
    pool: deps.pool,
    dispatcher: deps.dispatcher,
    ...(deps.transaction ? { transaction: deps.transaction } : {}),
    ...deps.orders,
  });
  catalogRoutes(book, deps.pool);
  ledgerRoutes(book, deps.pool);
  const document = openApiDocument([...book.specs, ...(options.documented ?? [])]);
  app.get('/openapi.json', (_req, res) => {
    res.json(document);
  });
  app.use('/docs', docsRouter());
  // Every /api/v1 request counts against its IP (a route of the book with its caller, in the same
  // round trip), and needs a token unless a route is public.
  app.use('/api/v1', book.router, limiters.ip);
  options.mount?.(app, guards);
  app.use('/api/v1', guards.requireAuth);
  app.use((_req, res) => {
    sendError(res, { code: 'not_found', message: 'no such route' });
  });
  app.use(errorHandler(deps.logger));
  return app;
}
