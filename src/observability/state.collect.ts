// Scrape-time gauges, each read over a small partial index or from Redis: outbox depth and the
// age of its oldest row per destination kind, parked rows, and BullMQ job counts per queue and
// state. The costlier business invariants are not here: a periodic check sets them
// (invariants.check.ts), so a scrape costs the same whatever the size of the tables.
import type { Queue } from 'bullmq';
import { outboxBacklog } from '../messaging/messaging.queries.ts';
import type { Pool } from '../platform/db.ts';
import type { Metrics } from '../platform/metrics.ts';

const jobStates = ['waiting', 'active', 'delayed', 'failed', 'completed', 'prioritized', 'waiting-children'] as const;

export async function collectState(pool: Pool, queues: ReadonlyMap<string, Queue>, metrics: Metrics): Promise<void> {
  const backlog = await outboxBacklog(pool);
  for (const destination of ['queue', 'kafka'] as const) {
    metrics.outboxDepth.set({ destination }, backlog.depth[destination].rows);
    metrics.outboxOldestAgeSeconds.set({ destination }, backlog.depth[destination].oldestAgeSeconds);
  }
  metrics.outboxParked.set(backlog.parked);
  await Promise.all(
    [...queues].map(async ([name, queue]) => {
      const counts = await queue.getJobCounts(...jobStates);
      for (const [state, n] of Object.entries(counts)) metrics.queueJobs.set({ queue: name, state }, n);
    }),
  );
}
