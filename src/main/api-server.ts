// Builds the HTTP server on the core dependencies, for api.main.ts, all.main.ts and tests.
import type { Server } from 'node:http';
import { createApp } from '../api/app.ts';
import { mountAdmin, type MountedAdmin } from '../admin/admin.mount.ts';
import { withHttpMetrics } from '../admin/http.metrics.ts';
import type { Metrics } from '../platform/metrics.ts';
import { readRelayStatus } from '../relay/relay.status.ts';
import type { CoreDeps } from './core-deps.ts';

export function createApiApp(core: CoreDeps, metrics: Metrics) {
  const { config } = core;
  let admin: MountedAdmin | undefined;
  const app = createApp({
    pool: core.pool,
    dispatcher: core.dispatcher,
    transaction: core.transaction,
    redis: core.redis,
    queues: core.queues,
    logger: core.logger,
    metrics,
    readinessChecks: { relay: () => readRelayStatus(core.redis, config.QUEUE_PREFIX) },
    orders: {
      topic: config.KAFKA_TOPIC_ORDER_EVENTS,
      reservationTtlMs: config.RESERVATION_TTL_MS,
      paymentDeadlineMs: config.PAYMENT_DEADLINE_MS,
      waitSecondsMax: config.ORDER_WAIT_SECONDS_MAX,
    },
    mount: (inner) => void (admin = mountAdmin(inner, core, metrics)),
  });
  // The operator's surfaces (src/admin/): HTTP metrics around every route; admin closed with the server.
  const outer = withHttpMetrics(app, metrics, async () => admin?.collectOwnedQueues());
  return Object.assign(outer, { closeAdmin: () => admin?.close() });
}

export function listen(app: ReturnType<typeof createApiApp>, port: number, host: string): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = app.listen(port, host, (error?: Error) => (error ? reject(error) : resolve(server)));
    server.on('close', () => void app.closeAdmin());
  });
}
