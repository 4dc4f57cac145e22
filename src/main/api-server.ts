// Builds the HTTP server on the core dependencies, for api.main.ts, all.main.ts and tests.
import type { Server } from 'node:http';
import { createApp, type AppOptions } from '../api/app.ts';
import { createOrderWaiter } from '../api/order-waiter.ts';
import { mountAdmin, type MountedAdmin } from '../admin/admin.mount.ts';
import { adminRouteSpecs } from '../admin/admin.openapi.ts';
import { withHttpMetrics } from '../observability/http.metrics.ts';
import { createTokenVerifier } from '../platform/auth.ts';
import type { Metrics } from '../platform/metrics.ts';
import { registerDependencyGauge } from '../platform/metrics-server.ts';
import { outages } from '../platform/outage.ts';
import { redisDependency, type Redis } from '../platform/redis.ts';
import { readRelayStatus } from '../relay/relay.status.ts';
import type { CoreDeps } from './core-deps.ts';

/**
 * /ready checks PostgreSQL and the BullMQ node live; these add each Redlock node, from the outage
 * log: one node down is 'degraded' (the quorum of the others still answers), and /ready names it.
 */
function lockNodeChecks(core: CoreDeps): Record<string, () => Promise<'ok' | 'degraded'>> {
  if (!core.config.REDLOCK_ENABLED) return {};
  const checks: Record<string, () => Promise<'ok' | 'degraded'>> = {};
  for (const url of core.config.REDLOCK_NODES) {
    const dependency = redisDependency(url);
    checks[`lock ${dependency}`] = async () => (outages.states()[dependency] === 'down' ? 'degraded' : 'ok');
  }
  return checks;
}

export function createApiApp(core: CoreDeps, metrics: Metrics, options: AppOptions = {}) {
  const { config } = core;
  registerDependencyGauge(metrics.registry);
  let admin: MountedAdmin | undefined;
  const waiter = createOrderWaiter(core.pool, {
    listenUrl: config.DATABASE_URL,
    logger: core.logger.child({ module: 'order-waiter' }),
    backstopMs: config.ORDER_WAIT_BACKSTOP_MS,
  });
  const app = createApp(
    {
      pool: core.pool,
      dispatcher: core.dispatcher,
      transaction: core.transaction,
      // AppDeps (src/api/app.ts) still names a single node; the app only pings it and runs the rate
      // limits' script on it, which a cluster client serves as well.
      redis: core.redis as Redis,
      queues: core.queues,
      logger: core.logger,
      metrics,
      readinessChecks: { relay: () => readRelayStatus(core.redis, config.QUEUE_PREFIX), ...lockNodeChecks(core) },
      orders: {
        topic: config.KAFKA_TOPIC_ORDER_EVENTS,
        machine: core.machine,
        reservationTtlMs: config.RESERVATION_TTL_MS,
        paymentDeadlineMs: config.PAYMENT_DEADLINE_MS,
        waitSecondsMax: config.ORDER_WAIT_SECONDS_MAX,
        idempotencyKeyTtlMs: config.IDEMPOTENCY_KEY_TTL_MS,
        pauseAfterCommitMs: config.API_PAUSE_AFTER_ORDER_COMMIT_MS,
        waiter,
      },
      tokens: createTokenVerifier(config),
      trustProxyHops: config.HTTP_TRUST_PROXY_HOPS,
      rateLimit: {
        windowMs: config.RATE_LIMIT_WINDOW_MS,
        ipMax: config.RATE_LIMIT_IP_MAX,
        perCallerMax: { orders: config.RATE_LIMIT_ORDERS_MAX, api: config.RATE_LIMIT_API_MAX },
        prefix: config.QUEUE_PREFIX,
        redisTimeoutMs: config.RATE_LIMIT_REDIS_TIMEOUT_MS,
      },
    },
    {
      mount: (inner, guards) => {
        admin = mountAdmin(inner, core, metrics);
        options.mount?.(inner, guards);
      },
      documented: adminRouteSpecs,
    },
  );
  // The operator's surfaces (src/admin/): HTTP metrics around every route; admin closed with the server.
  const outer = withHttpMetrics(app, metrics, async () => admin?.collectOwnedQueues());
  return Object.assign(outer, { closeAdmin: async () => void (await Promise.all([admin?.close(), waiter.close()])) });
}

export function listen(app: ReturnType<typeof createApiApp>, port: number, host: string): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = app.listen(port, host, (error?: Error) => (error ? reject(error) : resolve(server)));
    server.on('close', () => void app.closeAdmin());
  });
}

/**
 * Graceful stop: stop accepting, let requests in flight finish (idle keep-alive sockets close at
 * once), and cut whatever is still open after `graceMs`, so a shutdown is bounded.
 */
export function stopServer(server: Server, graceMs = 10_000): Promise<void> {
  return new Promise((resolve) => {
    const cut = setTimeout(() => server.closeAllConnections(), graceMs);
    cut.unref();
    server.close(() => {
      clearTimeout(cut);
      resolve();
    });
    server.closeIdleConnections();
  });
}
