// The business invariants as gauges, recomputed every INVARIANT_CHECK_INTERVAL_MS in the API
// process (never per scrape), each pass in one read-only transaction with a statement timeout,
// so its cost is bounded whatever the scrape rate: ledger imbalance, oversold units, units held
// by final orders, stuck orders, orders needing attention, double charges, dead letters, and
// orders by status. Each module answers for its own tables; this file only composes their answers.
import { heldUnitsByOrder, stockConservation } from '../inventory/inventory.queries.ts';
import { ledgerNetByCurrency } from '../ledger/ledger.queries.ts';
import { deadLettersByQueue } from '../messaging/messaging.queries.ts';
import {
  finalOrdersAmong,
  needsAttentionCount,
  orderCountsByStatus,
  stuckOrderCount,
} from '../orders/order.queries.ts';
import { doubleChargedOrderCount } from '../payments/simulated-provider.sql.ts';
import type { Logger } from '../platform/logger.ts';
import type { Metrics } from '../platform/metrics.ts';
import type { Pool, Queryable } from '../platform/db.ts';
import { orderStatuses } from '../../machines/order.status.ts';

export interface InvariantFacts {
  ledgerImbalance: Map<string, string>;
  oversoldUnits: number;
  unconservedProducts: number;
  finalOrderHeldUnits: number;
  stuckOrders: number;
  /** Orders halted until an operator resolves them (an undo failed for good). */
  needsAttention: number;
  doubleCharges: number;
  deadLetters: Map<string, number>;
  ordersByStatus: Map<string, number>;
}

/** Units still held by orders that are final: inventory says who holds, orders say who is final. */
async function finalOrderHeldUnits(db: Queryable): Promise<number> {
  const held = await heldUnitsByOrder(db);
  const final = await finalOrdersAmong(db, [...held.keys()]);
  let units = 0;
  for (const [orderId, quantity] of held) if (final.has(orderId)) units += quantity;
  return units;
}

/**
 * One pass over the invariants. `db` may be a client inside a test's transaction; the check's own
 * pass reads one snapshot (REPEATABLE READ), so answers composed from several modules agree.
 */
export async function readInvariants(db: Queryable, stuckAfterMs: number): Promise<InvariantFacts> {
  const ledgerImbalance = await ledgerNetByCurrency(db);
  const stock = await stockConservation(db);
  return {
    ledgerImbalance,
    oversoldUnits: stock.oversoldUnits,
    unconservedProducts: stock.unconservedProducts,
    finalOrderHeldUnits: await finalOrderHeldUnits(db),
    stuckOrders: await stuckOrderCount(db, stuckAfterMs),
    needsAttention: await needsAttentionCount(db),
    doubleCharges: await doubleChargedOrderCount(db),
    deadLetters: await deadLettersByQueue(db),
    ordersByStatus: await orderCountsByStatus(db),
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
  metrics.ordersNeedingAttention.set(facts.needsAttention);
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
      await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
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
