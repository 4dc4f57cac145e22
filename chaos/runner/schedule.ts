// The schedule of a run, a pure function of its options and seed: which orders are sent when, and
// which faults are injected when, where, and for how long. Nothing here touches a process.
import { workerRoles } from '../../src/main/roles.ts';
import { mulberry32, type Random } from './prng.ts';

export const scenarios = ['ledger', 'kill', 'race', 'pause', 'postgres', 'redis', 'kafka', 'all'] as const;
export type Scenario = (typeof scenarios)[number];

export const faultKinds = ['kill', 'pause', 'postgres', 'redis', 'kafka'] as const;
export type FaultKind = (typeof faultKinds)[number];

/** Processes of the fleet, one per role. The API, each worker role, the relay and the notifications consumer. */
export const workerMembers = workerRoles;
export const fleetMembers = ['api', ...workerMembers, 'relay', 'notifications'] as const;
export type FleetMember = (typeof fleetMembers)[number];

/**
 * `pause` runs a second process of each worker role (`<role>-twin`): while one is stopped, its
 * twin's stalled-job check takes the jobs whose lock lapsed, so both copies of a job run.
 */
export const twinSuffix = '-twin';
export const twinMembers = workerMembers.filter((m) => m !== 'sweeper').map((m) => `${m}${twinSuffix}`);

/** The runner's own Redlock nodes (never the shared 6379-6381): the `redis` fault stops some of them. */
export const redlockPorts = [6392, 6393, 6394] as const;

export interface PlannedFault {
  atMs: number;
  kind: FaultKind;
  /** kill and pause: one fleet member; redis: the ports stopped; postgres and kafka: none. */
  targets: string[];
  /** How long the fault lasts before the runner undoes it (restart, SIGCONT, start again). */
  holdMs: number;
}

export const orderKinds = ['plain', 'coupon', 'scarce', 'decline', 'transient', 'lost_response'] as const;
export type OrderKind = (typeof orderKinds)[number];

export interface PlannedOrder {
  n: number;
  atMs: number;
  kind: OrderKind;
  /** Index into the run's products; 0 is the scarce one. */
  product: number;
  quantity: number;
  /** Ask for a cancel this long after the order was accepted, or never. */
  cancelAfterMs: number | null;
}

export interface ScheduleOptions {
  scenario: Scenario;
  seed: number;
  durationMs: number;
  /** Orders per second. */
  rate: number;
  /** The fleet's BullMQ lock: a pause must outlast it. */
  lockDurationMs: number;
  /** The fleet's Redlock TTL: a stopped node stays down longer than it. */
  redlockTtlMs: number;
  /** For `all`: the fault kinds it may draw. */
  allKinds: readonly FaultKind[];
  /** For `race`: the number of buyers of the last unit. */
  buyers: number;
}

export interface Schedule {
  seed: number;
  scenario: Scenario;
  durationMs: number;
  orders: PlannedOrder[];
  faults: PlannedFault[];
}

const productsCount = 4;
const orderWeights: Array<[OrderKind, number]> = [
  ['plain', 40],
  ['coupon', 20],
  ['scarce', 10],
  ['decline', 10],
  ['transient', 10],
  ['lost_response', 10],
];

function weighted<T>(random: Random, choices: Array<[T, number]>): T {
  const total = choices.reduce((sum, [, weight]) => sum + weight, 0);
  let roll = random.next() * total;
  for (const [choice, weight] of choices) {
    roll -= weight;
    if (roll < 0) return choice;
  }
  return choices[choices.length - 1]![0];
}

function planLoad(random: Random, options: ScheduleOptions): PlannedOrder[] {
  if (options.scenario === 'ledger') return [];
  if (options.scenario === 'race') {
    return Array.from({ length: options.buyers }, (_, n) => ({
      n,
      atMs: 0,
      kind: 'plain',
      product: 0,
      quantity: 1,
      cancelAfterMs: null,
    }));
  }
  const count = Math.max(1, Math.round((options.rate * options.durationMs) / 1_000));
  const spacingMs = 1_000 / options.rate;
  return Array.from({ length: count }, (_, n) => {
    const kind = weighted(random, orderWeights);
    return {
      n,
      atMs: Math.floor(n * spacingMs + random.next() * spacingMs),
      kind,
      product: kind === 'scarce' ? 0 : random.int(1, productsCount - 1),
      quantity: random.int(1, 3),
      cancelAfterMs: random.chance(0.1) ? random.int(0, 3_000) : null,
    };
  });
}

/** One fault of the given kind at `atMs`, its target and length drawn from the seed. */
function planFault(random: Random, kind: FaultKind, atMs: number, options: ScheduleOptions, n: number): PlannedFault {
  switch (kind) {
    case 'kill':
      return { atMs, kind, targets: [random.pick(fleetMembers)], holdMs: 2_000 };
    case 'pause':
      return {
        atMs,
        kind,
        targets: [random.pick(workerMembers.filter((m) => m !== 'sweeper'))],
        holdMs: options.lockDurationMs + random.int(2_000, 4_000),
      };
    case 'postgres':
      return { atMs, kind, targets: [], holdMs: 0 };
    case 'redis': {
      // First one node, then two (a lost quorum); each down for longer than a lock lives.
      const down = n % 2 === 0 ? 1 : 2;
      const ports = [...redlockPorts];
      const targets: string[] = [];
      for (let i = 0; i < down; i++) targets.push(String(ports.splice(random.int(0, ports.length - 1), 1)[0]));
      return { atMs, kind, targets, holdMs: options.redlockTtlMs + random.int(2_000, 4_000) };
    }
    case 'kafka':
      return { atMs, kind, targets: [], holdMs: 20_000 };
  }
}

function kindsOf(options: ScheduleOptions): FaultKind[] {
  switch (options.scenario) {
    case 'ledger':
    case 'race':
      return [];
    case 'all':
      return [...options.allKinds];
    default:
      return [options.scenario];
  }
}

/** Faults one after another (never two at once, so each one's effect can be told apart), from 3 s in. */
function planFaults(random: Random, options: ScheduleOptions): PlannedFault[] {
  const kinds = kindsOf(options);
  const faults: PlannedFault[] = [];
  if (kinds.length === 0) return faults;
  const endMs = options.durationMs - 1_000;
  // A lone Kafka outage comes mid-load, when the outbox has traffic to hold back.
  let atMs = options.scenario === 'kafka' ? Math.max(3_000, Math.floor(options.durationMs / 4)) : 3_000;
  while (faults.length < 1_000) {
    const kind = random.pick(kinds);
    const sameKindBefore = faults.filter((f) => f.kind === kind).length;
    const fault = planFault(random, kind, atMs, options, sameKindBefore);
    if (fault.atMs + fault.holdMs > endMs) break;
    faults.push(fault);
    // A Kafka outage is long and stops a broker other runs share: at most one per run.
    const gapMs = kind === 'postgres' ? random.int(4_000, 8_000) : random.int(2_000, 5_000);
    atMs = fault.atMs + fault.holdMs + gapMs;
    if (kind === 'kafka') kinds.splice(kinds.indexOf('kafka'), 1);
    if (kinds.length === 0) break;
  }
  return faults;
}

export function planSchedule(options: ScheduleOptions): Schedule {
  // Two streams from one seed: adding a fault kind does not move the load, and the other way round.
  const loadRandom = mulberry32(options.seed);
  const faultRandom = mulberry32(options.seed ^ 0x5bd1e995);
  return {
    seed: options.seed,
    scenario: options.scenario,
    durationMs: options.durationMs,
    orders: planLoad(loadRandom, options),
    faults: planFaults(faultRandom, options),
  };
}
