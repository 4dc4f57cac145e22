// The live status line while a run goes on, and the bounded drain after it: both read PostgreSQL
// directly (orders of the run by tag, outbox depth), never the engine's API.
import { finalStatuses } from '../../machines/order.status.ts';
import { sleep, type Pool } from '../../src/platform/db.ts';
import type { FaultLog } from './faults.ts';
import type { LoadStats } from './load.ts';

export interface Progress {
  orders: number;
  final: number;
  outboxDepth: number;
  unpublished: number;
  /** Queue messages of the run not yet processed (timers left out): a cancel can still move a final order. */
  unprocessed: number;
  unnotified: number;
}

/**
 * The run's orders are those of its own products (named chaos-<tag>-...): found even if the API
 * were to take the user id from the token rather than from the body.
 */
export const runOrdersSql = `SELECT id, status FROM orders o
  WHERE EXISTS (SELECT 1 FROM jsonb_array_elements(o.items) item WHERE item->>'product_id' LIKE $1)`;

export function tagPattern(tag: string): string {
  return `chaos-${tag}-%`;
}

export async function progressOf(pool: Pool, tag: string, topic: string): Promise<Progress> {
  const row = await pool.query<Progress>(
    `WITH mine AS (${runOrdersSql})
     SELECT (SELECT count(*) FROM mine)::int AS orders,
            (SELECT count(*) FROM mine WHERE status = ANY($2::text[]))::int AS final,
            (SELECT count(*) FROM outbox
              WHERE destination LIKE 'kafka:%' AND published_at IS NULL AND parked_at IS NULL)::int AS "outboxDepth",
            (SELECT count(*) FROM outbox x JOIN mine ON x.key = mine.id::text
              WHERE x.destination = $3 AND x.published_at IS NULL)::int AS unpublished,
            (SELECT count(*) FROM outbox x JOIN mine ON x.key = mine.id::text
              WHERE x.destination LIKE 'queue:%' AND x.delay_ms = 0 AND x.processed_at IS NULL
                AND x.parked_at IS NULL)::int AS unprocessed,
            (SELECT count(*) FROM mine WHERE mine.status = 'confirmed'
                AND NOT EXISTS (SELECT 1 FROM notifications n WHERE n.order_id = mine.id))::int AS unnotified`,
    [tagPattern(tag), [...finalStatuses], `kafka:${topic}`],
  );
  return row.rows[0]!;
}

/** Prints at most once a second on a terminal (in place), every 5 s to a file or pipe. */
export function startStatusLine(
  read: () => Promise<Progress>,
  load: LoadStats,
  faults: FaultLog,
  startedAt: number,
): () => void {
  const tty = process.stderr.isTTY === true;
  let ticks = 0;
  let busy = false;
  const timer = setInterval(() => {
    ticks++;
    if (busy || (!tty && ticks % 5 !== 0)) return;
    busy = true;
    void read()
      .then((p) => {
        const counts = Object.entries(faults.counts)
          .filter(([, n]) => n > 0)
          .map(([kind, n]) => `${kind} ${n}`);
        const line =
          `[chaos ${Math.round((Date.now() - startedAt) / 1_000)}s] orders sent ${load.sent}, ` +
          `final ${p.final}/${p.orders} | faults ${counts.join(', ') || 'none'} | Kafka outbox depth ${p.outboxDepth}`;
        process.stderr.write(tty ? `\r${line.padEnd(100)}` : `${line}\n`);
      })
      .catch(() => undefined)
      .finally(() => {
        busy = false;
      });
  }, 1_000);
  return () => {
    clearInterval(timer);
    if (tty) process.stderr.write('\n');
  };
}

export interface DrainResult {
  settled: boolean;
  waitedMs: number;
  last: Progress;
}

/** Waits until every order of the run is final, its events published and its confirmations sent. */
export async function drain(
  read: () => Promise<Progress>,
  timeoutMs: number,
  notifications: boolean,
): Promise<DrainResult> {
  const started = Date.now();
  for (;;) {
    const last = await read().catch(() => null);
    const settled =
      last !== null &&
      last.final === last.orders &&
      last.unpublished === 0 &&
      last.unprocessed === 0 &&
      (!notifications || last.unnotified === 0);
    if (last !== null && (settled || Date.now() - started > timeoutMs)) {
      return { settled, waitedMs: Date.now() - started, last };
    }
    await sleep(500);
  }
}
