// The shared dependencies every process builds first: pool, Redis, queues, dispatcher, lock.
// Entry points and tests build them here, and nowhere else.
import type { Queue } from 'bullmq';
import { jobOptions, queueLimitsFrom } from '../../queues/job-options.ts';
import { queueNames } from '../../queues/queues.ts';
import { createDispatcher, type Dispatcher } from '../messaging/dispatcher.ts';
import { createQueue } from '../platform/bullmq.ts';
import type { Config } from '../platform/config.ts';
import { createPool, type Pool, type TransactionOptions } from '../platform/db.ts';
import { createNoLock, createRedlock, type Lock } from '../platform/lock.ts';
import { createLogger, type Logger } from '../platform/logger.ts';
import { Cluster, createBullmqRedis, createRedis, type RedisClient } from '../platform/redis.ts';
import { deployedOrderMachine, type MachineVersion } from '../../machines/migrations/index.ts';

export interface CoreDeps {
  config: Config;
  pool: Pool;
  /** BullMQ's connection (REDIS_URL, or the cluster of REDIS_CLUSTER_NODES): queues, rate limits, relay status. */
  redis: RedisClient;
  queues: Map<string, Queue>;
  dispatcher: Dispatcher;
  lock: Lock;
  logger: Logger;
  /** Retry policy for serialization failures and deadlocks, from the config. */
  transaction: TransactionOptions;
  /** The order machine definition the process places and steps orders in (the deployed one; a test may give its own). */
  machine: MachineVersion;
  close(): Promise<void>;
}

export function createCoreDeps(
  config: Config,
  role = 'engine',
  machine: MachineVersion = deployedOrderMachine,
): CoreDeps {
  const logger = createLogger(config.LOG_LEVEL, role);
  const pool = createPool({
    connectionString: config.DATABASE_URL,
    poolSizeMax: config.PG_POOL_SIZE_MAX,
    statementTimeoutMs: config.PG_STATEMENT_TIMEOUT_MS,
    applicationName: `order-engine-${role}`,
  });
  const redis = createBullmqRedis(config);
  const defaults = jobOptions(queueLimitsFrom(config));
  const queues = new Map<string, Queue>(
    queueNames.map((name) => [
      name,
      createQueue(name, redis, config.QUEUE_PREFIX, defaults, config.QUEUE_EVENTS_MAX_LEN),
    ]),
  );
  const dispatcher = createDispatcher(pool, queues, logger, {
    sweepAgeMs: config.OUTBOX_SWEEP_AGE_MS,
    batchSizeMax: config.OUTBOX_BATCH_SIZE_MAX,
    redeliverAfterMs: config.OUTBOX_REDELIVER_AFTER_MS,
  });
  // Each (re)connect, the first included: Redis may be back without the jobs it was handed. On a
  // cluster, a node that left the slot map (a master failed over) may have taken its last writes along.
  redis.on('ready', () => dispatcher.redeliverHandedOver());
  if (redis instanceof Cluster) redis.on('-node', () => dispatcher.redeliverHandedOver());
  // Lock clients fail fast when a node is down, so a quorum of the others still answers.
  const lock = config.REDLOCK_ENABLED
    ? createRedlock(
        config.REDLOCK_NODES.map((url) =>
          createRedis(url, { maxRetriesPerRequest: 0, enableOfflineQueue: false, lazyConnect: false }),
        ),
        {
          retryCount: config.REDLOCK_RETRY_COUNT,
          retryDelayMs: config.REDLOCK_RETRY_DELAY_MS,
          retryJitterMs: config.REDLOCK_RETRY_JITTER_MS,
        },
      )
    : createNoLock();
  return {
    config,
    pool,
    redis,
    queues,
    dispatcher,
    lock,
    logger,
    transaction: { attemptsMax: config.PG_TX_RETRY_ATTEMPTS_MAX, backoffMs: config.PG_TX_RETRY_BACKOFF_MS },
    machine,
    async close() {
      await Promise.all([...queues.values()].map((q) => q.close()));
      await lock.close();
      await redis.quit().catch(() => redis.disconnect());
      await pool.end();
    },
  };
}
