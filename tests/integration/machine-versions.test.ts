// Changing the order machine under live orders (issue 21, part 1). Orders are stored in every state
// version 1 of the machine can rest in, each parked there by the real modules (a role's worker held
// back), then version 2 is deployed: a state renamed (charging -> paying) and a context field added
// (channel, default 'web'), with its migration. Every order restores, completes and passes the
// invariants; each transition that migrated a snapshot says so. A version 2 that drops an occupied
// state with no migration for it is refused by the check and by the workers' start.
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { promisify } from 'node:util';
import { createMachine, type AnyStateNode } from 'xstate';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkInvariants, waitUntilFinal } from '../../chaos/invariants.ts';
import {
  addContextField,
  deployedOrderMachine,
  hasState,
  inOrder,
  renameState,
  type MachineVersion,
  type OrderMachine,
  type SnapshotMigration,
} from '../../machines/migrations/index.ts';
import { orderMachine } from '../../machines/order.machine.ts';
import { resolveAttention } from '../../src/orders/order.resolve.ts';
import { createCoupon } from '../../src/coupons/coupons.create.ts';
import type { CoreDeps } from '../../src/main/core-deps.ts';
import { startWorkers, type RunningWorkers } from '../../src/main/engine.ts';
import type { WorkerRole } from '../../src/main/roles.ts';
import { checkMachine, formatMachineCheck, MachineCheckFailedError } from '../../src/orders/machine-check.ts';
import { placeOrder, requestCancel, type OrderServiceDeps } from '../../src/orders/order.service.ts';
import { restoreStored } from '../../src/orders/order.step.ts';
import { freshDatabase } from '../support/database.ts';
import { address, freshProduct, startTestEngine, type TestEngine } from '../support/engine.ts';
import { createTestDeps, until } from '../support/harness.ts';
import { testConfig } from '../support/test-config.ts';

// ---- version 2, built in the test from version 1's definition ------------------------------------

/** A copy of a machine config with the state `from` renamed `to`, wherever it is a key or a target. */
function renamedConfig(node: unknown, from: string, to: string, key?: string): unknown {
  if (typeof node === 'string') return (key === 'target' || key === 'on') && node === from ? to : node;
  if (Array.isArray(node)) return node.map((item) => renamedConfig(item, from, to, key));
  if (node === null || typeof node !== 'object' || Object.getPrototypeOf(node) !== Object.prototype) return node;
  return Object.fromEntries(
    Object.entries(node).map(([k, v]) => [
      key === 'states' && k === from ? to : k,
      // Values of an `on` map are transitions: a bare string there is a target.
      renamedConfig(v, from, to, key === 'on' ? 'on' : k),
    ]),
  );
}

function machineVersion2(): OrderMachine {
  const config = renamedConfig(orderMachine.config, 'charging', 'paying') as Record<string, unknown>;
  const context = orderMachine.config.context as unknown as (args: unknown) => Record<string, unknown>;
  config.context = (args: unknown) => ({ ...context(args), channel: 'web' });
  return createMachine(
    config as unknown as Parameters<typeof createMachine>[0],
    orderMachine.implementations as Parameters<typeof createMachine>[1],
  ) as unknown as OrderMachine;
}

const migrationTo2: SnapshotMigration = {
  from: 1,
  change: 'charging renamed paying; context.channel added (web)',
  migrate: inOrder(renameState('charging', 'paying'), addContextField('channel', 'web')),
};
const version2: MachineVersion = { version: 2, machine: machineVersion2(), migrations: [migrationTo2] };
/** Version 2 without the rename in its migration: `charging` is gone and its orders have no path. */
const version2Dropping: MachineVersion = {
  version: 2,
  machine: version2.machine,
  migrations: [{ from: 1, change: 'context.channel added', migrate: addContextField('channel', 'web') }],
};

// ---- the states version 1 can rest in ----------------------------------------------------------

/** Leaves a stored snapshot can be in: not `pending` (placing steps past it), no eventless or final sub-state. */
function restingStates(machine: OrderMachine): string[] {
  const leaves = (node: AnyStateNode): AnyStateNode[] =>
    Object.keys(node.states).length === 0 ? [node] : Object.values(node.states).flatMap(leaves);
  return leaves(machine.root)
    .filter((n) => n.always === undefined || n.always.length === 0)
    .filter((n) => !(n.type === 'final' && n.parent !== machine.root))
    .map((n) => n.path.join('.'))
    .filter((state) => state !== 'pending')
    .sort();
}

const parkedStates = [
  'reserving',
  'redeemingCoupon',
  'charging',
  'settling',
  'compensating.reversingLedger',
  'compensating.refunding',
  'compensating.restoringCoupon',
  'compensating.releasingStock',
  'needsAttention',
];
const finalStates = ['confirmed', 'rejected', 'failed', 'expired', 'cancelled'];

// ---- orders parked by real modules, one group (BullMQ prefix) at a time --------------------------

let databaseUrl: string;
const overrides = () => ({ DATABASE_URL: databaseUrl, QUEUE_ATTEMPTS: '6', QUEUE_BACKOFF_MS: '100' });
/** Every order the test placed, with the state it was parked in under version 1. */
const placed = new Map<string, string>();

interface Group {
  core: CoreDeps;
  deps: OrderServiceDeps;
  running: Map<WorkerRole, RunningWorkers>;
}

function openGroup(extra: Record<string, string> = {}): Group {
  const core = createTestDeps({ ...overrides(), ...extra });
  const config = testConfig();
  const deps: OrderServiceDeps = {
    pool: core.pool,
    dispatcher: core.dispatcher,
    topic: config.KAFKA_TOPIC_ORDER_EVENTS,
    reservationTtlMs: config.RESERVATION_TTL_MS,
    paymentDeadlineMs: config.PAYMENT_DEADLINE_MS,
  };
  return { core, deps, running: new Map() };
}

async function run(group: Group, roles: WorkerRole[]): Promise<void> {
  for (const role of roles) group.running.set(role, await startWorkers(group.core, [role]));
}

async function stop(group: Group, role: WorkerRole): Promise<void> {
  await group.running.get(role)?.close();
  group.running.delete(role);
}

/** Stops the group's workers and empties its queues: what it left undone is in the outbox. */
async function closeGroup(group: Group): Promise<void> {
  for (const role of [...group.running.keys()]) await stop(group, role);
  await Promise.all([...group.core.queues.values()].map((q) => q.obliterate({ force: true })));
  await group.core.close();
}

async function place(
  group: Group,
  options: { user?: string; coupon?: string; quantity?: number; stock?: number; ttlMs?: number } = {},
): Promise<string> {
  const product = await freshProduct(group.core, options.stock ?? 5);
  const deps = options.ttlMs === undefined ? group.deps : { ...group.deps, reservationTtlMs: options.ttlMs };
  const result = await placeOrder(deps, {
    userId: options.user ?? 'versions',
    currency: 'USD',
    items: [{ product_id: product, quantity: options.quantity ?? 1 }],
    couponCode: options.coupon ?? null,
    shippingAddress: address,
    correlationId: `versions-${randomUUID()}`,
  });
  if (!result.ok || result.value === null) throw new Error(`placing failed: ${JSON.stringify(result)}`);
  placed.set(result.value.id, 'placed');
  return result.value.id;
}

async function stateOf(pool: CoreDeps['pool'], id: string): Promise<string> {
  const row = await pool.query<{ state: string }>('SELECT state FROM orders WHERE id = $1', [id]);
  return row.rows[0]?.state ?? 'missing';
}

async function parkIn(group: Group, id: string, state: string): Promise<void> {
  await until(async () => ((await stateOf(group.core.pool, id)) === state ? true : undefined), 20_000).catch(
    async () => {
      throw new Error(`order ${id} never reached ${state}: it is in ${await stateOf(group.core.pool, id)}`);
    },
  );
  placed.set(id, state);
}

async function cancel(group: Group, id: string): Promise<void> {
  const result = await requestCancel(group.deps, id, `versions-cancel-${id}`);
  if (!result.ok) throw new Error(`cancel of ${id} refused: ${result.error.message}`);
}

async function newCoupon(group: Group): Promise<string> {
  const code = `V${randomUUID().slice(0, 8).toUpperCase()}`;
  const created = await createCoupon(group.core.pool, { code, kind: 'percent', percentOff: '10', redemptionsMax: 5 });
  if (!created.ok) throw new Error('coupon not created');
  return code;
}

/** An order that expires: its reservation's timer fires while it is charging, then it is compensated. */
async function parkExpired(): Promise<void> {
  const group = openGroup();
  try {
    await run(group, ['orders', 'sweeper', 'inventory']);
    const expired = await place(group, { ttlMs: 300 });
    await parkIn(group, expired, 'compensating.refunding');
    await run(group, ['payments']);
    await parkIn(group, expired, 'expired');
  } finally {
    await closeGroup(group);
  }
}

/** Final orders, then confirmed orders cancelled as one module after another is held back. */
async function parkFinalAndCompensating(): Promise<void> {
  const group = openGroup();
  try {
    await run(group, ['orders', 'inventory', 'coupons', 'payments', 'ledger']);
    await parkIn(group, await place(group), 'confirmed');
    await parkIn(group, await place(group, { stock: 1, quantity: 2 }), 'rejected');
    await parkIn(group, await place(group, { user: 'test_decline-versions' }), 'failed');
    const cancelled = await place(group);
    await parkIn(group, cancelled, 'confirmed');
    await cancel(group, cancelled);
    await parkIn(group, cancelled, 'cancelled');
    // Compensation runs ledger, payment, coupon, stock: hold back the last module first.
    const undo = [
      { role: 'inventory', state: 'compensating.releasingStock', id: await place(group) },
      {
        role: 'coupons',
        state: 'compensating.restoringCoupon',
        id: await place(group, { coupon: await newCoupon(group) }),
      },
      { role: 'payments', state: 'compensating.refunding', id: await place(group) },
      { role: 'ledger', state: 'compensating.reversingLedger', id: await place(group) },
    ] as const;
    for (const { id } of undo) await parkIn(group, id, 'confirmed');
    for (const { role, state, id } of undo) {
      await stop(group, role);
      await cancel(group, id);
      await parkIn(group, id, state);
    }
    await parkIn(group, await place(group), 'reserving');
  } finally {
    await closeGroup(group);
  }
}

/** A confirmed order cancelled while the provider refuses its refund: it halts in needsAttention. */
async function parkNeedsAttention(): Promise<void> {
  const group = openGroup({ PAYMENT_SIM_REFUSE_REFUNDS_PREFIX: 'refuse_' });
  try {
    await run(group, ['orders', 'inventory', 'coupons', 'payments', 'ledger']);
    const halted = await place(group, { user: 'refuse_versions' });
    await parkIn(group, halted, 'confirmed');
    await cancel(group, halted);
    await parkIn(group, halted, 'needsAttention');
  } finally {
    await closeGroup(group);
  }
}

/** Orders waiting on the coupon, on the payment, and on the ledger after payment. */
async function parkForward(): Promise<void> {
  const waiting = openGroup();
  try {
    await run(waiting, ['inventory']);
    await parkIn(waiting, await place(waiting), 'charging');
    await parkIn(waiting, await place(waiting, { coupon: await newCoupon(waiting) }), 'redeemingCoupon');
  } finally {
    await closeGroup(waiting);
  }
  const settling = openGroup();
  try {
    await run(settling, ['inventory', 'payments']);
    await parkIn(settling, await place(settling), 'settling');
  } finally {
    await closeGroup(settling);
  }
}

const machineCli = async () =>
  promisify(execFile)('npx', ['tsx', 'src/main/machine.main.ts', 'check'], {
    env: { ...process.env, DATABASE_URL: databaseUrl, LOG_LEVEL: 'silent' },
  }).then(
    (done) => ({ code: 0, out: done.stdout }),
    (failed: { code: number; stdout: string }) => ({ code: failed.code, out: failed.stdout }),
  );

beforeAll(async () => {
  databaseUrl = await freshDatabase('versions');
  await parkExpired();
  await parkFinalAndCompensating();
  await parkNeedsAttention();
  await parkForward();
}, 180_000);

describe('machine versions', () => {
  let engine: TestEngine | undefined;
  afterAll(async () => {
    await engine?.close();
  });

  it('stores orders in every state version 1 can rest in, each stamped version 1', async () => {
    expect(restingStates(orderMachine)).toEqual([...parkedStates, ...finalStates].sort());
    expect([...new Set(placed.values())].sort()).toEqual([...parkedStates, ...finalStates].sort());
    const group = openGroup();
    try {
      const check = await checkMachine(group.core.pool, deployedOrderMachine);
      expect(check.strandedOrders).toBe(0);
      expect(check.occupied.map((o) => `${o.machineVersion} ${o.state}`).sort()).toEqual(
        [...parkedStates, ...finalStates].map((s) => `1 ${s}`).sort(),
      );
      const cli = await machineCli();
      expect(cli.code, cli.out).toBe(0);
      expect(cli.out).toMatch(/^\s+1\s+1\s+compensating\.refunding -> ok$/m);
      expect(cli.out).toContain('every stored order has a path into version 1');
    } finally {
      await group.core.close();
    }
  });

  it('refuses a version 2 that drops an occupied state with no migration: the check and the start', async () => {
    const charging = [...placed].find(([, state]) => state === 'charging')![0];
    const group = openGroup();
    try {
      const check = await checkMachine(group.core.pool, version2Dropping);
      expect(check.strandedOrders).toBe(1);
      expect(check.occupied.filter((o) => o.target === null)).toEqual([
        expect.objectContaining({ machineVersion: 1, state: 'charging', orders: 1, stranded: [charging] }),
      ]);
      expect(formatMachineCheck(check)).toContain(`v1 charging: ${charging}`);
      expect(check.occupied.find((o) => o.state === 'reserving')?.target).toBe('reserving');
      const refused = { ...group.core, machine: version2Dropping };
      await expect(startWorkers(refused, ['orders'])).rejects.toThrow(MachineCheckFailedError);
      await expect(startWorkers(refused, ['payments'])).rejects.toThrow(
        new RegExp(`refusing to start[\\s\\S]*${charging}`),
      );
      // The machine without its migration at all: every version 1 order is stranded.
      const none = await checkMachine(group.core.pool, { ...version2, migrations: [] });
      expect(none.strandedOrders).toBe(placed.size);
      expect(none.occupied[0]?.problem).toBe('no migration from version 1 to 2');
      expect(await stateOf(group.core.pool, charging)).toBe('charging');
    } finally {
      await group.core.close();
    }
  });

  it('deploys version 2: every order restores through the migration, completes and passes the invariants', async () => {
    expect(hasState(version2.machine, 'paying') && !hasState(version2.machine, 'charging')).toBe(true);
    engine = await startTestEngine(overrides(), { machine: version2 });
    const pool = engine.core.pool;
    // A confirmed order of version 1 is cancelled under version 2: it too restores through the migration.
    const confirmed = [...placed].find(([, state]) => state === 'confirmed')![0];
    const v2deps = { ...openGroupDeps(engine.core), machine: version2 };
    expect((await requestCancel(v2deps, confirmed, 'versions-cancel-v2')).ok).toBe(true);
    // The order halted in needsAttention is retried under version 2 (this engine's provider refunds it).
    const halted = [...placed].find(([, state]) => state === 'needsAttention')![0];
    const retried = await resolveAttention(
      v2deps,
      halted,
      { action: 'retry', note: 'provider block lifted', operator: 'versions-test' },
      'versions-resolve',
    );
    expect(retried.ok).toBe(true);
    const ids = [...placed.keys()];
    expect(await waitUntilFinal(pool, ids, 60_000)).toEqual([]);
    expect((await checkInvariants(pool, ids)).violations).toEqual([]);

    const moved = [
      ...parkedStates.flatMap((s) => [...placed].filter(([, st]) => st === s).map(([id]) => id)),
      confirmed,
    ];
    const rows = await pool.query<{
      id: string;
      machine_version: number;
      snapshot: { context: Record<string, unknown> };
    }>('SELECT id::text, machine_version, snapshot FROM orders WHERE id = ANY($1::uuid[])', [moved]);
    for (const row of rows.rows) {
      expect(row, row.id).toMatchObject({ machine_version: 2, snapshot: { context: { channel: 'web' } } });
    }
    const migrations = await pool.query<{ order_id: string; migrations: number; first_from: string }>(
      `SELECT order_id::text, count(*) FILTER (WHERE migrated_from = 1 AND migrated_to = 2)::int AS migrations,
              (array_agg(from_state ORDER BY seq) FILTER (WHERE migrated_from IS NOT NULL))[1] AS first_from
         FROM order_transitions WHERE order_id = ANY($1::uuid[]) GROUP BY order_id`,
      [ids],
    );
    const byId = new Map(migrations.rows.map((r) => [r.order_id, r]));
    for (const id of moved) expect(byId.get(id)?.migrations, `${id} (${placed.get(id)})`).toBe(1);
    for (const [id, state] of placed) {
      if (!moved.includes(id)) expect(byId.get(id)?.migrations, `${id} (${state})`).toBe(0);
    }
    const charging = [...placed].find(([, state]) => state === 'charging')![0];
    expect(byId.get(charging)?.first_from).toBe('paying');

    // Every stored order, of either version, restores into version 2.
    const all = await pool.query<{ id: string; snapshot: unknown; machine_version: number }>(
      'SELECT id::text, snapshot, machine_version FROM orders WHERE id = ANY($1::uuid[])',
      [ids],
    );
    for (const row of all.rows) {
      expect(restoreStored(version2, row.snapshot, row.machine_version).context).toMatchObject({ channel: 'web' });
    }
    const after = await checkMachine(pool, version2);
    expect(after.strandedOrders).toBe(0);
    expect(after.occupied.some((o) => o.machineVersion === 1 && o.target === 'rejected')).toBe(true);
  }, 120_000);

  it('npm run machine -- check: lists the states and exits non-zero naming the orders with no path', async () => {
    // The deployed machine is version 1: orders stamped 2 by the deploy above have no path back into it.
    const refused = await machineCli();
    expect(refused.code, refused.out).toBe(1);
    expect(refused.out).toContain('order machine: deployed version 1');
    expect(refused.out).toMatch(/^\s+1\s+1\s+rejected -> ok$/m);
    expect(refused.out).toMatch(/^\s+2\s+\d+\s+cancelled -> NO PATH \(written by machine version 2, newer/m);
    const charging = [...placed].find(([, state]) => state === 'charging')![0];
    expect(refused.out).toContain(charging);
  });
});

function openGroupDeps(core: CoreDeps): OrderServiceDeps {
  const config = testConfig();
  return {
    pool: core.pool,
    dispatcher: core.dispatcher,
    topic: config.KAFKA_TOPIC_ORDER_EVENTS,
    reservationTtlMs: config.RESERVATION_TTL_MS,
    paymentDeadlineMs: config.PAYMENT_DEADLINE_MS,
  };
}
