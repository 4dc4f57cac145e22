// Migrations of stored order snapshots: pure functions over the JSON that PostgreSQL holds (XState's
// persisted snapshot), one per version step N -> N+1. No I/O, no clock: the runtime applies them to
// a snapshot restored from an older version, in the transaction that steps it, and the check
// (`npm run machine -- check`) applies them to every occupied state before the workers start.
import type { StateValue } from 'xstate';
import type { orderMachine } from '../order.machine.ts';
import { stateName } from '../order.status.ts';

/** A snapshot as the orders table stores it: XState's persisted snapshot, plain JSON. */
export interface PersistedSnapshot {
  value: StateValue;
  context: Record<string, unknown>;
  [key: string]: unknown;
}

/** One version step: turns a snapshot written by version `from` into one of version `from + 1`. */
export interface SnapshotMigration {
  from: number;
  /** What the step changes, in a few words (the check prints it). */
  change: string;
  migrate(snapshot: PersistedSnapshot): PersistedSnapshot;
}

/** The order machine's type. A later version keeps its context, events and input. */
export type OrderMachine = typeof orderMachine;

/** A deployable definition: the machine, its version, and the migrations from every older version. */
export interface MachineVersion {
  version: number;
  machine: OrderMachine;
  migrations: readonly SnapshotMigration[];
}

/** Why a stored snapshot has no path into a definition. */
export class NoMachinePathError extends Error {
  override name = 'NoMachinePathError';
}

/** 'compensating.refunding' -> { compensating: 'refunding' }; 'charging' -> 'charging'. */
export function stateValueOf(name: string): StateValue {
  const [head, ...rest] = name.split('.');
  return rest.length === 0 ? (head ?? name) : { [head ?? name]: stateValueOf(rest.join('.')) };
}

/** A migration's body: the state `from` (a dotted name) becomes `to`; other states are left alone. */
export function renameState(from: string, to: string): (snapshot: PersistedSnapshot) => PersistedSnapshot {
  return (snapshot) =>
    stateName(snapshot.value) === from ? { ...snapshot, value: stateValueOf(to) } : { ...snapshot };
}

/** A migration's body: the context gains `field` with `value`, unless it has it already. */
export function addContextField(field: string, value: unknown): (snapshot: PersistedSnapshot) => PersistedSnapshot {
  return (snapshot) =>
    field in snapshot.context ? { ...snapshot } : { ...snapshot, context: { ...snapshot.context, [field]: value } };
}

/** Several bodies, applied left to right, as one migration's body. */
export function inOrder(
  ...bodies: Array<(snapshot: PersistedSnapshot) => PersistedSnapshot>
): (snapshot: PersistedSnapshot) => PersistedSnapshot {
  return (snapshot) => bodies.reduce((s, body) => body(s), snapshot);
}

/** The migrations that lead from `fromVersion` to the definition's version, or why there are none. */
export function migrationsFrom(definition: MachineVersion, fromVersion: number): SnapshotMigration[] {
  if (fromVersion > definition.version) {
    throw new NoMachinePathError(
      `written by machine version ${fromVersion}, newer than the deployed version ${definition.version}`,
    );
  }
  const steps: SnapshotMigration[] = [];
  for (let version = fromVersion; version < definition.version; version += 1) {
    const next = definition.migrations.find((m) => m.from === version);
    if (next === undefined) throw new NoMachinePathError(`no migration from version ${version} to ${version + 1}`);
    steps.push(next);
  }
  return steps;
}

/**
 * A snapshot written by `fromVersion`, migrated to the definition's version, and checked to name a
 * state the definition has. Throws NoMachinePathError when it cannot be.
 */
export function migrateSnapshot(
  definition: MachineVersion,
  persisted: PersistedSnapshot,
  fromVersion: number,
): PersistedSnapshot {
  const migrated = migrationsFrom(definition, fromVersion).reduce((s, m) => m.migrate(s), persisted);
  const state = stateName(migrated.value);
  if (!hasState(definition.machine, state)) {
    throw new NoMachinePathError(`state ${state} does not exist in machine version ${definition.version}`);
  }
  return migrated;
}

/** Whether the machine has the (dotted) state, as a leaf a snapshot can rest in. */
export function hasState(machine: OrderMachine, state: string): boolean {
  try {
    const node = machine.getStateNodeById(`${machine.id}.${state}`);
    return node.type !== 'compound' && node.type !== 'parallel';
  } catch {
    return false;
  }
}
