// The deployed order machine and its version. Change the machine in a way that stored snapshots
// would not survive (a state renamed or removed, a context field added), and you bump the version
// here and add the migration from the previous one: a `SnapshotMigration` in its own file beside this
// one (`from-1.ts`: `{ from: 1, change, migrate }`, built from renameState / addContextField), listed
// in `migrations` below. Adding states or events needs no new version. docs/operations.md, "Deploying
// a changed machine", says how to roll it out; `npm run machine -- check` says whether it is safe.
import { orderMachine } from '../order.machine.ts';
import type { MachineVersion, SnapshotMigration } from './snapshot-migration.ts';

/** Migrations from each older version of the order machine, one per version step. */
export const orderMachineMigrations: readonly SnapshotMigration[] = [];

/** The order machine this code deploys. */
export const deployedOrderMachine: MachineVersion = {
  version: 1,
  machine: orderMachine,
  migrations: orderMachineMigrations,
};

export * from './snapshot-migration.ts';
