// BullMQ factories. Every queue and worker gets its options spelled out by the caller (queues/).
import { Queue, Worker, type JobsOptions, type Processor } from 'bullmq';
import type { Redis } from 'ioredis';
import type { WorkerLimits } from '../../queues/job-options.ts';

export function createQueue(name: string, connection: Redis, prefix: string, defaultJobOptions: JobsOptions): Queue {
  return new Queue(name, { connection, prefix, defaultJobOptions });
}

export function createWorker(
  name: string,
  connection: Redis,
  prefix: string,
  processor: Processor,
  limits: WorkerLimits,
): Worker {
  return new Worker(name, processor, {
    connection,
    prefix,
    ...limits,
    autorun: true,
    // A worker shuts down only after its in-flight jobs settle (or their locks expire).
    drainDelay: 5,
  });
}
