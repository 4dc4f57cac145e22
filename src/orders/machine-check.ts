// The machine check: does every stored order have a path into the deployed machine definition?
// For each occupied (machine version, state), a stored snapshot goes through the migrations from its
// version and is restored into the definition; the pair has a path when that works and lands in a
// state the definition has. `npm run machine -- check` prints it for every stored order; the workers
// run it at start over the orders they will step again (none in a final status) and refuse to start
// when one has no path, rather than strand it (src/main/engine.ts).
import type { Queryable } from '../platform/db.ts';
import { finalStatuses, orderStatuses, stateName } from '../../machines/order.status.ts';
import { type MachineVersion } from '../../machines/migrations/index.ts';
import { occupiedStates, ordersIn, sampleSnapshot, type StatusScope } from './machine-check.queries.ts';
import { restoreStored } from './order.step.ts';

export interface OccupiedState {
  machineVersion: number;
  state: string;
  orders: number;
  /** The state it restores into in the deployed definition, or null when it has no path. */
  target: string | null;
  /** Why it has no path. */
  problem: string | null;
  /** The first ids of its orders when it has no path (at most `idsMax`). */
  stranded: string[];
}

export interface MachineCheck {
  version: number;
  occupied: OccupiedState[];
  /** Orders with no path into the deployed definition. */
  strandedOrders: number;
}

/** Names the orders of a pair with no path, this many at most (the count is always given). */
export const strandedIdsMax = 20;

/** The statuses of the orders a worker may step again: every status but the final ones. */
export const unfinishedStatuses: readonly string[] = orderStatuses.filter(
  (s) => !(finalStatuses as readonly string[]).includes(s),
);

/**
 * Checks the occupied states of the database against the definition: of every stored order, or of
 * the orders in `statuses` only (the workers' start passes unfinishedStatuses).
 */
export async function checkMachine(
  db: Queryable,
  definition: MachineVersion,
  idsMax = strandedIdsMax,
  statuses: StatusScope = null,
): Promise<MachineCheck> {
  const occupied: OccupiedState[] = [];
  for (const row of await occupiedStates(db, statuses)) {
    const snapshot = await sampleSnapshot(db, row.machine_version, row.state, statuses);
    if (snapshot === undefined) continue; // its orders moved on since the count
    const path = pathOf(definition, snapshot, row.machine_version);
    const stranded = path.target === null ? await ordersIn(db, row.machine_version, row.state, idsMax, statuses) : [];
    occupied.push({ machineVersion: row.machine_version, state: row.state, orders: row.orders, ...path, stranded });
  }
  const strandedOrders = occupied.filter((o) => o.target === null).reduce((sum, o) => sum + o.orders, 0);
  return { version: definition.version, occupied, strandedOrders };
}

function pathOf(
  definition: MachineVersion,
  snapshot: unknown,
  machineVersion: number,
): Pick<OccupiedState, 'target' | 'problem'> {
  try {
    const restored = restoreStored(definition, snapshot, machineVersion);
    return { target: stateName(restored.value), problem: null };
  } catch (error) {
    return { target: null, problem: error instanceof Error ? error.message : String(error) };
  }
}

/** The check as an operator reads it: a table of occupied states, then the verdict. */
export function formatMachineCheck(check: MachineCheck): string {
  const lines = [`order machine: deployed version ${check.version}`, 'version  orders  state -> path'];
  for (const o of check.occupied) {
    const path =
      o.target === null
        ? `NO PATH (${o.problem ?? 'unknown'})`
        : o.machineVersion === check.version
          ? 'ok'
          : `${o.target} (migrated ${o.machineVersion} -> ${check.version})`;
    lines.push(`${String(o.machineVersion).padStart(7)}  ${String(o.orders).padStart(6)}  ${o.state} -> ${path}`);
  }
  if (check.occupied.length === 0) lines.push('(no stored orders)');
  lines.push(verdictOf(check));
  return lines.join('\n');
}

function verdictOf(check: MachineCheck): string {
  if (check.strandedOrders === 0) return `every stored order has a path into version ${check.version}`;
  const strandedStates = check.occupied.filter((o) => o.target === null);
  const named = strandedStates.map((o) => {
    const more = o.orders - o.stranded.length;
    return `  v${o.machineVersion} ${o.state}: ${o.stranded.join(', ')}${more > 0 ? ` and ${more} more` : ''}`;
  });
  return [
    `${check.strandedOrders} stored order(s) in ${strandedStates.length} state(s) have no path into machine version ${check.version}:`,
    ...named,
    'add the migration from their version (machines/migrations/), or keep their states, before deploying',
  ].join('\n');
}

/** Refuses a definition that would strand stored orders: a start with it would fail their steps. */
export class MachineCheckFailedError extends Error {
  override name = 'MachineCheckFailedError';
}

/**
 * The workers' check at start, over the orders they will step again: throws MachineCheckFailedError,
 * with the check's text, when one has no path. A final order is never stepped again (a late duplicate
 * for it fails alone and dead-letters), so it does not hold a start back; `npm run machine -- check`
 * still lists it.
 */
export async function assertEveryOrderHasPath(db: Queryable, definition: MachineVersion): Promise<MachineCheck> {
  const check = await checkMachine(db, definition, strandedIdsMax, unfinishedStatuses);
  if (check.strandedOrders > 0) {
    throw new MachineCheckFailedError(`refusing to start the workers:\n${formatMachineCheck(check)}`);
  }
  return check;
}
