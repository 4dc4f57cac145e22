// Load shapes: a closed loop (N clients, each places its next order when the last one answered:
// saturation) and an open loop (orders sent at a fixed rate whatever the answers: latency at a
// given load). Which products the orders take: spread over many, or 90% on a few hot ones.
import { seededRandom, sleep } from './bench-support.ts';

export interface Placement {
  orderId: string | null;
  /** final: the answer says the order reached an outcome; accepted: it is in flight (202). */
  outcome: 'final' | 'accepted' | 'error';
  status: string;
  /** Client-side time of the request, ms. */
  ms: number;
  /** When the answer arrived (Date.now()). */
  at: number;
  error?: string;
}

export type Placer = (n: number) => Promise<Placement>;

/** What the progress line shows about the load that runs now. */
export interface LoadStatus {
  phase: string;
  startedAt: number;
  placed: number;
  answered: number;
  errors: number;
}

export const loadStatus: LoadStatus = { phase: 'starting', startedAt: Date.now(), placed: 0, answered: 0, errors: 0 };

function resetStatus(phase: string): void {
  Object.assign(loadStatus, { phase, startedAt: Date.now(), placed: 0, answered: 0, errors: 0 });
}

async function timed(place: Placer, n: number, into: Placement[]): Promise<void> {
  loadStatus.placed++;
  const started = performance.now();
  let placement: Placement;
  try {
    placement = await place(n);
  } catch (error) {
    placement = { orderId: null, outcome: 'error', status: 'error', ms: 0, at: 0, error: String(error) };
  }
  placement.ms = performance.now() - started;
  placement.at = Date.now();
  loadStatus.answered++;
  if (placement.outcome === 'error') loadStatus.errors++;
  into.push(placement);
}

export interface ClosedLoopResult {
  clients: number;
  windowSeconds: number;
  /** Orders answered with an outcome inside the measured window, per second. */
  ordersPerSecond: number;
  /** Every placement, warm-up included (costs are per order placed). */
  placements: Placement[];
  /** Placements answered inside the window. */
  measured: Placement[];
}

/** `clients` loops, each placing orders back to back for warmupMs + durationMs; the window is after warm-up. */
export async function closedLoop(
  phase: string,
  options: { clients: number; warmupMs: number; durationMs: number; place: Placer },
): Promise<ClosedLoopResult> {
  resetStatus(phase);
  const placements: Placement[] = [];
  const windowStart = Date.now() + options.warmupMs;
  const end = windowStart + options.durationMs;
  let next = 0;
  await Promise.all(
    Array.from({ length: options.clients }, async () => {
      while (Date.now() < end) await timed(options.place, next++, placements);
    }),
  );
  const windowEnd = Math.min(Date.now(), end);
  const measured = placements.filter((p) => p.outcome === 'final' && p.at >= windowStart && p.at <= windowEnd);
  const windowSeconds = (windowEnd - windowStart) / 1_000;
  return {
    clients: options.clients,
    windowSeconds,
    ordersPerSecond: measured.length / windowSeconds,
    placements,
    measured,
  };
}

/** One order at a time with a pause between: each finds the engine idle. */
export async function oneAtATime(
  phase: string,
  options: { count: number; pauseMs: number; place: Placer },
): Promise<Placement[]> {
  resetStatus(phase);
  const placements: Placement[] = [];
  for (let n = 0; n < options.count; n++) {
    await timed(options.place, n, placements);
    await sleep(options.pauseMs);
  }
  return placements;
}

export interface OpenLoopResult {
  targetPerSecond: number;
  sentPerSecond: number;
  placements: Placement[];
}

/** Sends orders at `ratePerSecond` for durationMs, never waiting for answers (at most inFlightMax open). */
export async function openLoop(
  phase: string,
  options: { ratePerSecond: number; durationMs: number; place: Placer; inFlightMax: number },
): Promise<OpenLoopResult> {
  resetStatus(phase);
  const placements: Placement[] = [];
  const pending = new Set<Promise<void>>();
  const total = Math.max(1, Math.round((options.ratePerSecond * options.durationMs) / 1_000));
  const intervalMs = 1_000 / options.ratePerSecond;
  const started = Date.now();
  for (let n = 0; n < total; n++) {
    const due = started + n * intervalMs;
    const wait = due - Date.now();
    if (wait > 0) await sleep(wait);
    while (pending.size >= options.inFlightMax) await Promise.race(pending);
    const sent = timed(options.place, n, placements).finally(() => pending.delete(sent));
    pending.add(sent);
  }
  const sentSeconds = (Date.now() - started) / 1_000;
  await Promise.all(pending);
  return { targetPerSecond: options.ratePerSecond, sentPerSecond: total / Math.max(sentSeconds, 0.001), placements };
}

export type ProductPicker = (n: number) => string;

/** Orders spread evenly over the products: a checkout's traffic, no hot item. */
export function spreadPicker(products: string[]): ProductPicker {
  return (n) => products[n % products.length]!;
}

/** 90% of orders on the first `hotCount` products, the rest on the others; seeded, so it replays. */
export function hotPicker(products: string[], hotCount: number, seed: number): ProductPicker {
  const random = seededRandom(seed);
  const hot = products.slice(0, hotCount);
  const cold = products.slice(hotCount);
  return () => {
    const pool = random() < 0.9 || cold.length === 0 ? hot : cold;
    return pool[Math.floor(random() * pool.length)]!;
  };
}

export interface OrderShape {
  userId: string;
  productId: string;
  quantity: number;
}

/** The customers of a run: as many as the closed loop's clients, each with a token of its own. */
export function customerIds(count: number): string[] {
  return Array.from({ length: count }, (_, i) => `bench-c${i}`);
}

/** The n-th order: one line of quantity 1, from one of `customers` customers in turn. */
export function orderShape(n: number, pick: ProductPicker, customers = 50): OrderShape {
  return { userId: `bench-c${n % customers}`, productId: pick(n), quantity: 1 };
}
