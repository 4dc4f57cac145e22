// The business invariants as gauges, recomputed every INVARIANT_CHECK_INTERVAL_MS in the API
// process (never per scrape), each pass in one read-only transaction with a statement timeout,
// so its cost is bounded whatever the scrape rate: ledger imbalance, oversold units, units held
// by final orders, stuck orders, double charges, dead letters, and orders by status.
import type { Logger } from '../platform/logger.ts';
import type { Metrics } from '../platform/metrics.ts';
import type { Pool, Queryable } from '../platform/db.ts';
import { inFlightStatuses } from '../orders/order.queries.ts';

export interface InvariantFacts {
  ledgerImbalance: Map<string, string>;
  oversoldUnits: number;
  unconservedProducts: number;
  finalOrderHeldUnits: number;
  stuckOrders: number;
  doubleCharges: number;
  deadLetters: Map<string, number>;
  ordersByStatus: Map<string, number>;
}

const orderStatuses = ['pending', 'confirmed', 'rejected', 'failed', 'expired', 'cancelling', 'cancelled'];

/** One pass over the invariants. `db` may be a client inside a test's transaction. */
export async function readInvariants(db: Queryable, stuckAfterMs: number): Promise<InvariantFacts> {
  const ledger = await db.query<{ currency: string; imbalance: string }>(
    `SELECT currency, sum(CASE direction WHEN 'debit' THEN amount ELSE -amount END)::text AS imbalance
       FROM ledger_entries GROUP BY currency`,
  );
  const stock = await db.query<{ oversold: string; unconserved: string }>(
    `SELECT coalesce(sum(greatest(held + sold - on_hand, 0) + greatest(-available, 0)), 0) AS oversold,
            count(*) FILTER (WHERE available + held + sold <> on_hand) AS unconserved FROM stock`,
  );
  const facts = await db.query<{ held: string; stuck: string; double_charges: string }>(
    `SELECT (SELECT coalesce(sum(r.quantity), 0) FROM reservations r JOIN orders o ON o.id = r.order_id
              WHERE r.status = 'held' AND o.status <> ALL($1::text[])) AS held,
            (SELECT count(*) FROM orders WHERE status = ANY($1::text[])
                AND updated_at < now() - make_interval(secs => $2::float8 / 1000)) AS stuck,
            (SELECT count(*) FROM (SELECT order_id FROM provider_charges WHERE kind = 'charge' AND status = 'succeeded'
                GROUP BY order_id HAVING count(*) > 1) d) AS double_charges`,
    [inFlightStatuses, stuckAfterMs],
  );
  const dead = await db.query<{ queue: string; n: string }>(
    `SELECT queue, count(*) AS n FROM dead_letters GROUP BY queue`,
  );
  const orders = await db.query<{ status: string; n: string }>(
    `SELECT status, count(*) AS n FROM orders GROUP BY status`,
  );
  const row = facts.rows[0];
  return {
    ledgerImbalance: new Map(ledger.rows.map((r) => [r.currency, r.imbalance])),
    oversoldUnits: Number(stock.rows[0]?.oversold ?? 0),
    unconservedProducts: Number(stock.rows[0]?.unconserved ?? 0),
    finalOrderHeldUnits: Number(row?.held ?? 0),
    stuckOrders: Number(row?.stuck ?? 0),
    doubleCharges: Number(row?.double_charges ?? 0),
    deadLetters: new Map(dead.rows.map((r) => [r.queue, Number(r.n)])),
    ordersByStatus: new Map(orders.rows.map((r) => [r.status, Number(r.n)])),
  };
}

/** Whether each invariant holds, by the name its invariant_holds gauge and the console use. */
export function invariantChecks(facts: InvariantFacts): Array<{ invariant: string; holds: boolean }> {
  return [
    { invariant: 'ledger_balanced', holds: [...facts.ledgerImbalance.values()].every((v) => Number(v) === 0) },
    { invariant: 'stock_conserved', holds: facts.unconservedProducts === 0 },
    { invariant: 'no_oversell', holds: facts.oversoldUnits === 0 },
    { invariant: 'no_held_stock_of_final_orders', holds: facts.finalOrderHeldUnits === 0 },
    { invariant: 'no_double_charge', holds: facts.doubleCharges === 0 },
  ];
}

export function applyInvariants(metrics: Metrics, facts: InvariantFacts, queueNames: readonly string[]): void {
  metrics.ledgerImbalance.reset();
  for (const [currency, imbalance] of facts.ledgerImbalance)
    metrics.ledgerImbalance.set({ currency }, Number(imbalance));
  metrics.oversoldUnits.set(facts.oversoldUnits);
  metrics.finalOrderHeldUnits.set(facts.finalOrderHeldUnits);
  metrics.stuckOrders.set(facts.stuckOrders);
  metrics.doubleCharges.set(facts.doubleCharges);
  for (const { invariant, holds } of invariantChecks(facts)) metrics.invariantHolds.set({ invariant }, holds ? 1 : 0);
  for (const queue of new Set([...queueNames, ...facts.deadLetters.keys()]))
    metrics.deadLetters.set({ queue }, facts.deadLetters.get(queue) ?? 0);
  for (const status of orderStatuses) metrics.ordersByStatus.set({ status }, facts.ordersByStatus.get(status) ?? 0);
}

export interface InvariantCheckOptions {
  pool: Pool;
  metrics: Metrics;
  logger: Logger;
  queueNames: readonly string[];
  intervalMs: number;
  stuckAfterMs: number;
  /** Each pass's statements give up after this long, so a slow database never piles checks up. */
  statementTimeoutMs: number;
}

export interface InvariantCheck {
  /** The last pass's facts and when it ran (null before the first). */
  latest(): { facts: InvariantFacts; at: Date } | null;
  /** Runs a pass now (tests, and the first pass at start). */
  runOnce(): Promise<InvariantFacts>;
  stop(): Promise<void>;
}

export function startInvariantCheck(options: InvariantCheckOptions): InvariantCheck {
  let latest: { facts: InvariantFacts; at: Date } | null = null;
  let running: Promise<InvariantFacts> | null = null;
  const pass = async (): Promise<InvariantFacts> => {
    const started = performance.now();
    const client = await options.pool.connect();
    try {
      await client.query('BEGIN READ ONLY');
      await client.query(`SET LOCAL statement_timeout = ${Math.floor(options.statementTimeoutMs)}`);
      const facts = await readInvariants(client, options.stuckAfterMs);
      await client.query('COMMIT');
      applyInvariants(options.metrics, facts, options.queueNames);
      options.metrics.invariantCheckDuration.set((performance.now() - started) / 1_000);
      options.metrics.invariantCheckTimestamp.set(Date.now() / 1_000);
      latest = { facts, at: new Date() };
      return facts;
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw error;
    } finally {
      client.release();
    }
  };
  const runOnce = (): Promise<InvariantFacts> => {
    running ??= pass().finally(() => {
      running = null;
    });
    return running;
  };
  const tick = () =>
    runOnce().catch((error: unknown) => {
      options.metrics.invariantCheckFailures.inc();
      options.logger.warn({ err: error }, 'invariant check failed');
    });
  void tick();
  const timer = setInterval(tick, options.intervalMs);
  timer.unref();
  return {
    latest: () => latest,
    runOnce,
    async stop() {
      clearInterval(timer);
      await running?.catch(() => undefined);
    },
  };
}
