// Scrape-time gauges, each read over a small partial index or from Redis: outbox depth and the
// age of its oldest row per destination kind, parked rows, and BullMQ job counts per queue and
// state. The costlier business invariants are not here: a periodic check sets them
// (invariants.check.ts), so a scrape costs the same whatever the size of the tables.
import type { Queue } from 'bullmq';
import type { Pool } from '../platform/db.ts';
import type { Metrics } from '../platform/metrics.ts';

const jobStates = ['waiting', 'active', 'delayed', 'failed', 'completed', 'prioritized', 'waiting-children'] as const;

export async function collectState(pool: Pool, queues: ReadonlyMap<string, Queue>, metrics: Metrics): Promise<void> {
  const [outbox, parked] = await Promise.all([
    pool.query<{ destination: string; n: string; age: string | null }>(
      // Undelivered: a queue row its receiver has not processed (and that is due: a timer waits),
      // a Kafka row the relay has not published.
      `SELECT 'queue' AS destination, count(*) AS n, extract(epoch FROM now() - min(due_at)) AS age
         FROM outbox WHERE processed_at IS NULL AND parked_at IS NULL AND destination LIKE 'queue:%' AND due_at <= now()
       UNION ALL
       SELECT 'kafka', count(*), extract(epoch FROM now() - min(created_at))
         FROM outbox WHERE published_at IS NULL AND parked_at IS NULL AND destination LIKE 'kafka:%'`,
    ),
    pool.query<{ n: string }>(`SELECT count(*) AS n FROM outbox WHERE parked_at IS NOT NULL`),
  ]);
  for (const destination of ['queue', 'kafka']) {
    const row = outbox.rows.find((r) => r.destination === destination);
    metrics.outboxDepth.set({ destination }, Number(row?.n ?? 0));
    metrics.outboxOldestAgeSeconds.set({ destination }, Math.max(0, Number(row?.age ?? 0)));
  }
  metrics.outboxParked.set(Number(parked.rows[0]?.n ?? 0));
  await Promise.all(
    [...queues].map(async ([name, queue]) => {
      const counts = await queue.getJobCounts(...jobStates);
      for (const [state, n] of Object.entries(counts)) metrics.queueJobs.set({ queue: name, state }, n);
    }),
  );
}
