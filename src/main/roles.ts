// The engine's worker roles, listed once. `npm run worker -- --only <role>` runs one, engine.ts
// wires each, the supervisor groups them into processes, and the chaos runner starts and kills
// them by these names. A new worker adds its role here and its case in engine.ts's runtimeFor.
export const workerRoles = ['orders', 'inventory', 'coupons', 'payments', 'ledger', 'sweeper'] as const;
export type WorkerRole = (typeof workerRoles)[number];

/** The roles that `npm run supervise` runs in a process each; the others share one process. */
export const ownProcessRoles: readonly WorkerRole[] = ['orders', 'inventory'];
