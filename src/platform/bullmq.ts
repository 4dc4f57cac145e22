// BullMQ factories. Every queue and worker gets its options spelled out by the caller (queues/).
import { Queue, Worker, type JobsOptions, type Processor } from 'bullmq';
import type { RedisClient } from './redis.ts';
import type { WorkerLimits } from '../../queues/job-options.ts';

/**
 * BullMQ's key prefix for QUEUE_PREFIX, wrapped in a Redis Cluster hash tag: every key of every
 * queue then hashes to one slot, which BullMQ's Lua scripts need on Redis Cluster. On a single
 * node the braces change nothing.
 */
export function bullPrefixOf(queuePrefix: string): string {
  return `{${queuePrefix}}`;
}

export function createQueue(
  name: string,
  connection: RedisClient,
  prefix: string,
  defaultJobOptions: JobsOptions,
  eventsMaxLen = 1_000,
): Queue {
  // The events stream is written on every job change; nothing of the engine reads it, so it is kept short.
  const queue = new Queue(name, {
    connection,
    prefix: bullPrefixOf(prefix),
    defaultJobOptions,
    streams: { events: { maxLen: eventsMaxLen } },
  });
  // The connection's own listener (createRedis) reports an outage once, and every command's error
  // reaches its caller; this listener only keeps the queue's echo of it from going unheard.
  queue.on('error', () => undefined);
  return queue;
}

export function createWorker(
  name: string,
  connection: RedisClient,
  prefix: string,
  processor: Processor,
  limits: WorkerLimits,
): Worker {
  return new Worker(name, processor, {
    connection,
    prefix: bullPrefixOf(prefix),
    ...limits,
    autorun: true,
    // A worker shuts down only after its in-flight jobs settle (or their locks expire).
    drainDelay: 5,
  });
}
