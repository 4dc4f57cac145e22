// What the operator's surfaces take from the process that mounts them. Named here, so admin never
// reaches up into src/main for its wiring: main hands in its CoreDeps, which has this shape.
import type { Queue } from 'bullmq';
import type { RedisClient } from '../platform/redis.ts';
import type { Dispatcher } from '../messaging/dispatcher.ts';
import type { Config } from '../platform/config.ts';
import type { Pool, TransactionOptions } from '../platform/db.ts';
import type { Logger } from '../platform/logger.ts';

export interface AdminCore {
  config: Config;
  pool: Pool;
  /** BullMQ's Redis: Bull Board, the relay's queue, a delayed job's next attempt. */
  redis: RedisClient;
  queues: ReadonlyMap<string, Queue>;
  dispatcher: Dispatcher;
  logger: Logger;
  transaction: TransactionOptions;
}
