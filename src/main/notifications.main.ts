// Entry point: the notifications consumer of the Kafka topic order-events, in its own process so
// it scales (up to one member per partition) and fails apart from the engine.
import { loadConfigOrExit } from '../platform/config.ts';
import { createPool } from '../platform/db.ts';
import { createKafkaFromConfig } from '../platform/kafka.ts';
import { createLogger } from '../platform/logger.ts';
import { startNotificationsConsumer } from '../notifications/notifications.consumer.ts';
import { onShutdown } from './shutdown.ts';

const config = loadConfigOrExit();
const logger = createLogger(config.LOG_LEVEL, 'notifications');
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
  // A consumer that stopped for good must not leave a live process behind: exit, and be restarted.
  onFatal: () => process.exit(1),
});
onShutdown(logger, [() => consumer.stop(), () => pool.end()]);
