// The phases of a run. Engine phases start the engine's processes afresh and stop them at the
// end, so each is independent and its PostgreSQL counters are complete (a backend's exit flushes
// them). Baseline phases use their own pool, closed at the end for the same reason. Every phase
// orders from products no other phase touched.
import { createPool, type Queryable } from '../../src/platform/db.ts';
import { bytesPerOrder, tableSizes } from '../../src/retention/table-sizes.sql.ts';
import { placeBaselineOrder, retireBaselineEvents } from './baseline.ts';
import { EngineProcesses, engineRolesOf, inventoryRoleOf } from './engine-processes.ts';
import {
  closedLoop,
  hotPicker,
  openLoop,
  orderShape,
  oneAtATime,
  spreadPicker,
  type Placement,
  type ProductPicker,
} from './load.ts';
import { httpPlacer } from './engine-client.ts';
import { benchApplications, CostWindow, createProducts, drain, outcomesOf } from './measure.ts';
import { percentilesOf } from './bench-support.ts';
import type { BenchContext, PhaseResult } from './bench-context.ts';

function summarize(placements: Placement[]) {
  const errors = placements.filter((p) => p.outcome === 'error');
  return {
    placed: placements.length,
    errors: errors.length,
    error_samples: [...new Set(errors.map((e) => `${e.status} ${e.error ?? ''}`))].slice(0, 5),
    request_ms: percentilesOf(placements.filter((p) => p.outcome !== 'error').map((p) => p.ms)),
  };
}

const idsOf = (placements: Placement[]) => placements.flatMap((p) => (p.orderId === null ? [] : [p.orderId]));

async function startEngine(context: BenchContext, label: string): Promise<EngineProcesses> {
  context.say(`${label}: starting the engine (${context.layout})`);
  const started = Date.now();
  const roles = engineRolesOf(context.layout, context.metricsPortBase);
  const engine = new EngineProcesses(context.engineEnv, context.apiUrl, roles);
  try {
    await engine.start(context.settings.startTimeoutMs);
  } catch (error) {
    await engine.stop();
    throw error;
  }
  context.say(`${label}: engine ready in ${((Date.now() - started) / 1_000).toFixed(1)} s`);
  return engine;
}

async function stopEngine(context: BenchContext, engine: EngineProcesses): Promise<void> {
  await engine.stop();
  await context.stats.waitForBackendsToLeave(benchApplications, 10_000);
}

/**
 * A fresh engine's first orders are slow (compilation, connections, consumer group join); a short
 * closed loop, drained before anything is measured, keeps that out of every figure.
 */
async function warmEngine(context: BenchContext, engine: EngineProcesses, pick: ProductPicker): Promise<void> {
  const run = await closedLoop('engine warm-up (not measured)', {
    clients: Math.min(10, context.settings.clients),
    warmupMs: 0,
    durationMs: context.settings.engineWarmupMs,
    place: httpPlacer(context, pick, 30),
  });
  const failed = run.placements.find((p) => p.outcome === 'error');
  if (failed !== undefined) throw new Error(`warm-up order failed: ${failed.status} ${failed.error ?? ''}`);
  await drain(context.monitor, context.topic, idsOf(run.placements), context.settings.drainTimeoutMs);
  engine.assertAlive();
}

function trackEngine(window: CostWindow, context: BenchContext, engine: EngineProcesses): void {
  for (const [role, pid] of engine.pids()) window.track(role, [pid]);
  window.track('redis (bench BullMQ node)', [context.redis.pid]);
  window.trackJobs(engine.metricsUrls());
}

/** Closed loop on a running engine, then drain; returns the phase without costs. */
async function engineClosedLoop(
  context: BenchContext,
  engine: EngineProcesses,
  name: string,
  pick: ProductPicker,
  shape: { products: 'spread' | 'hot'; redlock: boolean },
): Promise<PhaseResult> {
  const { settings } = context;
  const run = await closedLoop(name, {
    clients: settings.clients,
    warmupMs: settings.warmupMs,
    durationMs: settings.saturationMs,
    place: httpPlacer(context, pick, 30),
  });
  engine.assertAlive();
  const ids = idsOf(run.placements);
  const drained = await drain(context.monitor, context.topic, ids, settings.drainTimeoutMs);
  engine.assertAlive();
  const measuredIds = idsOf(run.measured);
  return {
    name,
    system: 'engine',
    layout: context.layout,
    products: shape.products,
    redlock: shape.redlock,
    load: { type: 'closed', clients: settings.clients },
    ...summarize(run.placements),
    orders_per_second: run.ordersPerSecond,
    outcomes: await outcomesOf(context.monitor, context.topic, measuredIds),
    drained,
    costs: null,
    costs_orders: 0,
    costs_scope: null,
  };
}

async function engineOpenLoop(
  context: BenchContext,
  engine: EngineProcesses,
  name: string,
  ratePerSecond: number,
  pick: ProductPicker,
): Promise<PhaseResult> {
  const run = await openLoop(name, {
    ratePerSecond,
    durationMs: context.settings.latencyMs,
    place: httpPlacer(context, pick, 0),
    inFlightMax: 2_000,
  });
  engine.assertAlive();
  const ids = idsOf(run.placements);
  const drained = await drain(context.monitor, context.topic, ids, context.settings.drainTimeoutMs);
  engine.assertAlive();
  return {
    name,
    system: 'engine',
    layout: context.layout,
    products: 'spread',
    redlock: true,
    load: { type: 'open', target_per_second: run.targetPerSecond, sent_per_second: run.sentPerSecond },
    ...summarize(run.placements),
    orders_per_second: null,
    outcomes: await outcomesOf(context.monitor, context.topic, ids),
    drained,
    costs: null,
    costs_orders: 0,
    costs_scope: null,
  };
}

/** 20 orders one at a time on an otherwise idle engine: the latency of one order, all hops included. */
async function engineIdle(
  context: BenchContext,
  engine: EngineProcesses,
  name: string,
  pick: ProductPicker,
): Promise<PhaseResult> {
  const placements = await oneAtATime(name, { count: 20, pauseMs: 200, place: httpPlacer(context, pick, 30) });
  engine.assertAlive();
  const ids = idsOf(placements);
  const drained = await drain(context.monitor, context.topic, ids, context.settings.drainTimeoutMs);
  return {
    name,
    system: 'engine',
    layout: context.layout,
    products: 'spread',
    redlock: true,
    load: { type: 'closed', clients: 1 },
    ...summarize(placements),
    orders_per_second: null,
    outcomes: await outcomesOf(context.monitor, context.topic, ids),
    drained,
    costs: null,
    costs_orders: 0,
    costs_scope: null,
  };
}

async function latencyPhases(
  context: BenchContext,
  engine: EngineProcesses,
  pair: number,
  saturation: number,
  pick: ProductPicker,
): Promise<PhaseResult[]> {
  const results: PhaseResult[] = [
    await engineIdle(context, engine, `${context.layout} idle, one at a time #${pair}`, pick),
  ];
  for (const share of [0.5, 0.8]) {
    const name = `${context.layout} ${share * 100}% load #${pair}`;
    results.push(await engineOpenLoop(context, engine, name, Math.max(1, saturation * share), pick));
  }
  return results;
}

/**
 * One engine session, warmed up first: saturation, then (when `withLatency`) latency at 50% and
 * 80% of it. The costs window runs from the saturation phase to the engine's exit, and is
 * credited to the saturation phase with the count of orders it covers.
 */
async function engineSession(
  context: BenchContext,
  pair: number,
  withLatency: boolean,
): Promise<{ saturation: PhaseResult; latency: PhaseResult[] }> {
  const products = await createProducts(
    context.monitor,
    `${context.runTag}-${context.layout}-es${pair}`,
    context.settings.products,
  );
  const pick = spreadPicker(products);
  const engine = await startEngine(context, `pair ${pair}`);
  try {
    await warmEngine(context, engine, pick);
    // Table sizes are read outside the cost window (each reading scans every table).
    const sizesAtStart = await tableSizes(context.monitor.client as unknown as Queryable);
    const window = new CostWindow(context.stats, context.monitor, context.redis.client);
    trackEngine(window, context, engine);
    await window.open();
    const name = `${context.layout} saturation #${pair}`;
    const saturation = await engineClosedLoop(context, engine, name, pick, { products: 'spread', redlock: true });
    const rate = saturation.orders_per_second ?? 1;
    const latency = withLatency ? await latencyPhases(context, engine, pair, rate, pick) : [];
    await window.sampleJobs();
    await window.sample();
    await stopEngine(context, engine);
    const costs = await window.close();
    const covered = [saturation, ...latency].reduce((sum, p) => sum + p.placed - p.errors, 0);
    const bytes = bytesPerOrder(
      sizesAtStart,
      await tableSizes(context.monitor.client as unknown as Queryable),
      covered,
    );
    const scope = withLatency ? 'this phase and the latency phases after it, one engine session' : 'this phase';
    return {
      saturation: { ...saturation, costs, costs_orders: covered, costs_scope: scope, bytes_per_order: bytes },
      latency,
    };
  } finally {
    await engine.stop();
  }
}

/**
 * The engine's part of a pair. A full run gives saturation its own session, so its per-order
 * costs are its own, and the latency phases another; a quick run saves a start by sharing one.
 */
export async function enginePair(context: BenchContext, pair: number): Promise<PhaseResult[]> {
  if (context.settings.quick) {
    const { saturation, latency } = await engineSession(context, pair, true);
    return [saturation, ...latency];
  }
  const { saturation } = await engineSession(context, pair, false);
  context.say(
    `pair ${pair}: engine ${saturation.orders_per_second?.toFixed(1)} orders/s; latency at 50% and 80% of it`,
  );
  const products = await createProducts(
    context.monitor,
    `${context.runTag}-${context.layout}-el${pair}`,
    context.settings.products,
  );
  const engine = await startEngine(context, `pair ${pair} latency`);
  try {
    await warmEngine(context, engine, spreadPicker(products));
    const rate = saturation.orders_per_second ?? 1;
    return [saturation, ...(await latencyPhases(context, engine, pair, rate, spreadPicker(products)))];
  } finally {
    await stopEngine(context, engine);
  }
}

function hotPickerFor(products: string[], context: BenchContext): ProductPicker {
  return hotPicker(products, context.settings.hotProducts, context.settings.seed);
}

/** Hot products (90% of orders on 10), Redlock on, then the inventory role restarted with it off. */
export async function engineHot(context: BenchContext): Promise<PhaseResult[]> {
  const engine = await startEngine(context, 'hot products');
  try {
    const results: PhaseResult[] = [];
    for (const redlock of [true, false]) {
      if (!redlock) {
        context.say('hot products: restarting the inventory role with REDLOCK_ENABLED=false');
        const role = inventoryRoleOf(context.layout);
        await engine.restart(role, { REDLOCK_ENABLED: 'false' }, context.settings.startTimeoutMs);
      }
      const tag = `${context.runTag}-${context.layout}-h${redlock ? 'on' : 'off'}`;
      const products = await createProducts(context.monitor, tag, context.settings.products);
      await warmEngine(context, engine, spreadPicker(products.slice(context.settings.hotProducts)));
      const name = `${context.layout} hot, Redlock ${redlock ? 'on' : 'off'}`;
      results.push(
        await engineClosedLoop(context, engine, name, hotPickerFor(products, context), {
          products: 'hot',
          redlock,
        }),
      );
    }
    return results;
  } finally {
    await stopEngine(context, engine);
  }
}

/** The baseline at saturation: the same clients, a pool of the engine's size, closed at the end. */
export async function baselineSaturation(context: BenchContext, name: string, hot: boolean): Promise<PhaseResult> {
  const { settings } = context;
  const tag = `${context.runTag}-${name.replace(/[^a-z0-9]+/gi, '')}`;
  const ids = await createProducts(context.monitor, tag, settings.products);
  const pick = hot ? hotPickerFor(ids, context) : spreadPicker(ids);
  const pool = createPool({
    connectionString: context.databaseUrl,
    poolSizeMax: context.poolSizeMax,
    statementTimeoutMs: 15_000,
    applicationName: 'order-engine-bench-baseline',
  });
  const window = new CostWindow(context.stats, context.monitor, null);
  await window.open();
  let ended = false;
  try {
    const run = await closedLoop(name, {
      clients: settings.clients,
      warmupMs: settings.warmupMs,
      durationMs: settings.saturationMs,
      place: (n) => placeBaselineOrder(pool, orderShape(n, pick, context.customerTokens.size), context.topic),
    });
    await window.sample();
    await pool.end();
    ended = true;
    await context.stats.waitForBackendsToLeave(benchApplications, 10_000);
    const costs = await window.close();
    const ids = idsOf(run.placements);
    const outcomes = await outcomesOf(context.monitor, context.topic, idsOf(run.measured));
    await retireBaselineEvents((text, values) => context.monitor.query(text, values), ids);
    return {
      name,
      system: 'baseline',
      layout: null,
      products: hot ? 'hot' : 'spread',
      redlock: null,
      load: { type: 'closed', clients: settings.clients },
      ...summarize(run.placements),
      orders_per_second: run.ordersPerSecond,
      // The baseline's order is final when its transaction commits: its latency is the request's.
      outcomes: { ...outcomes, createToFinalMs: percentilesOf(run.measured.map((p) => p.ms)) },
      drained: null,
      costs,
      costs_orders: run.placements.length - summarize(run.placements).errors,
      costs_scope: 'this phase',
    };
  } finally {
    if (!ended) await pool.end();
  }
}
