// Entry point: the notifications consumer of the Kafka topic order-events, in its own process so
// it scales (up to one member per partition) and fails apart from the engine.
import { loadConfigOrExit } from '../platform/config.ts';
import { createPool } from '../platform/db.ts';
import { createKafkaFromConfig } from '../platform/kafka.ts';
import { createLogger } from '../platform/logger.ts';
import { createMetrics } from '../platform/metrics.ts';
import { serveMetrics } from '../platform/metrics-server.ts';
import { startNotificationsConsumer } from '../notifications/notifications.consumer.ts';
import { onShutdown } from './shutdown.ts';
import { guardProcess } from './process-guard.ts';

const config = loadConfigOrExit();
const logger = createLogger(config.LOG_LEVEL, 'notifications');
guardProcess(logger);
const pool = createPool({
  connectionString: config.DATABASE_URL,
  poolSizeMax: config.PG_POOL_SIZE_MAX,
  statementTimeoutMs: config.PG_STATEMENT_TIMEOUT_MS,
  applicationName: 'order-engine-notifications',
});
const consumer = await startNotificationsConsumer({
  kafka: createKafkaFromConfig(config, 'notifications'),
  pool,
  logger,
  topic: config.KAFKA_TOPIC_ORDER_EVENTS,
  groupId: config.KAFKA_NOTIFICATIONS_GROUP_ID,
  // Kafka away at start is waited for, like any later outage: the process keeps running.
  retryStart: true,
});
// /health names a dependency this process cannot reach; /metrics has the dependency_up gauge.
const metricsServer = serveMetrics(createMetrics().registry, config.METRICS_PORT, config.HTTP_HOST);
onShutdown(logger, [() => consumer.stop(), async () => void metricsServer?.close(), () => pool.end()]);
