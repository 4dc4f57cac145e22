// Reads PostgreSQL's truth into the scrape-time gauges: orders by status, outbox depth and age,
// queue depths, and the business invariants (1 holds, 0 broken).
import type { Queue } from 'bullmq';
import type { Pool } from '../platform/db.ts';
import type { Metrics } from '../platform/metrics.ts';

const orderStatuses = ['pending', 'confirmed', 'rejected', 'failed', 'expired', 'cancelling', 'cancelled'];

export async function collectState(pool: Pool, queues: ReadonlyMap<string, Queue>, metrics: Metrics): Promise<void> {
  const [orders, outbox, invariants] = await Promise.all([
    pool.query<{ status: string; n: string }>(`SELECT status, count(*) AS n FROM orders GROUP BY status`),
    pool.query<{ destination: string; n: string; age: string | null }>(
      // Undelivered: a queue row its receiver has not processed (and that is due: a timer waits),
      // a Kafka row the relay has not published.
      `SELECT 'queue' AS destination, count(*) AS n, extract(epoch FROM now() - min(due_at)) AS age
         FROM outbox WHERE processed_at IS NULL AND parked_at IS NULL AND destination LIKE 'queue:%' AND due_at <= now()
       UNION ALL
       SELECT 'kafka', count(*), extract(epoch FROM now() - min(created_at))
         FROM outbox WHERE dispatched_at IS NULL AND parked_at IS NULL AND destination LIKE 'kafka:%'`,
    ),
    pool.query<{ stock_conserved: boolean; ledger_balanced: boolean; parked: string }>(
      `SELECT (SELECT count(*) FROM outbox WHERE parked_at IS NOT NULL) AS parked,
         NOT EXISTS (SELECT 1 FROM stock WHERE available + held + sold <> on_hand) AS stock_conserved,
         NOT EXISTS (SELECT currency FROM ledger_entries GROUP BY currency
                      HAVING sum(CASE direction WHEN 'debit' THEN amount ELSE -amount END) <> 0) AS ledger_balanced`,
    ),
  ]);
  const byStatus = new Map(orders.rows.map((r) => [r.status, Number(r.n)]));
  for (const status of orderStatuses) metrics.ordersByStatus.set({ status }, byStatus.get(status) ?? 0);
  for (const destination of ['queue', 'kafka']) {
    const row = outbox.rows.find((r) => r.destination === destination);
    metrics.outboxDepth.set({ destination }, Number(row?.n ?? 0));
    metrics.outboxOldestAgeSeconds.set({ destination }, Number(row?.age ?? 0));
  }
  const inv = invariants.rows[0];
  metrics.outboxParked.set(Number(inv?.parked ?? 0));
  metrics.invariantHolds.set({ invariant: 'stock_conserved' }, inv?.stock_conserved ? 1 : 0);
  metrics.invariantHolds.set({ invariant: 'ledger_balanced' }, inv?.ledger_balanced ? 1 : 0);
  for (const [name, queue] of queues) {
    const counts = await queue.getJobCounts('waiting', 'active', 'delayed', 'failed', 'completed');
    for (const [state, n] of Object.entries(counts)) metrics.queueJobs.set({ queue: name, state }, n);
  }
}
