// Entry point: the whole engine in one process: the API, every worker, the sweeper, the outbox
// relay to Kafka and the notifications consumer.
import { startNotificationsConsumer } from '../notifications/notifications.consumer.ts';
import { startRelay } from '../relay/relay.worker.ts';
import { loadConfigOrExit } from '../platform/config.ts';
import { createKafkaFromConfig } from '../platform/kafka.ts';
import { createMetrics } from '../platform/metrics.ts';
import { createApiApp, listen, stopServer } from './api-server.ts';
import { createCoreDeps } from './core-deps.ts';
import { startWorkers } from './engine.ts';
import { workerRoles } from './roles.ts';
import { onShutdown } from './shutdown.ts';
import { guardProcess } from './process-guard.ts';

const config = loadConfigOrExit();
const core = createCoreDeps(config, 'all');
guardProcess(core.logger);
const metrics = createMetrics();
const running = await startWorkers(core, workerRoles, metrics);
const relay = await startRelay({
  config,
  pool: core.pool,
  redis: core.redis,
  logger: core.logger.child({ module: 'relay' }),
  metrics,
});
const notifications = await startNotificationsConsumer({
  kafka: createKafkaFromConfig(config, 'notifications'),
  pool: core.pool,
  logger: core.logger.child({ module: 'notifications' }),
  topic: config.KAFKA_TOPIC_ORDER_EVENTS,
  groupId: config.KAFKA_NOTIFICATIONS_GROUP_ID,
  retryStart: true,
});
const server = await listen(createApiApp(core, metrics), config.HTTP_PORT, config.HTTP_HOST);
core.logger.info({ url: `http://${config.HTTP_HOST}:${config.HTTP_PORT}`, roles: workerRoles }, 'engine running');
onShutdown(core.logger, [
  () => stopServer(server),
  () => notifications.stop(),
  () => relay.close(),
  () => running.close(),
  () => core.close(),
]);
