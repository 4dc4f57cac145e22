// Steps the pure order machine and turns its intents into outgoing messages. No I/O here: the
// caller passes the clock reading, and message ids are deterministic per (order, type).
import { createActor, type SnapshotFrom } from 'xstate';
import { orderMachine } from '../../machines/order.machine.ts';
import {
  migrateSnapshot,
  type MachineVersion,
  type OrderMachine,
  type PersistedSnapshot,
} from '../../machines/migrations/index.ts';
import { stateName, statusOf } from '../../machines/order.status.ts';
import type { OrderContext, OrderEvent, OrderInput, OrderStatus } from '../../machines/order.types.ts';
import { messageIdFor, type OutgoingMessage } from '../../queues/message.ts';
import { eventSchemaVersion, isOrderEventType, type OrderEventEnvelope } from '../../queues/order-events.ts';

export type OrderSnapshot = SnapshotFrom<typeof orderMachine>;

export interface StepResult {
  snapshot: OrderSnapshot;
  changed: boolean;
  from: string;
  to: string;
  status: OrderStatus;
  messages: OutgoingMessage[];
  /** Message ids of timers the order no longer waits for. */
  withdrawn: string[];
}

export interface StepContext {
  correlationId: string;
  occurredAt: Date;
  topic: string;
}

/** The four operations of the runtime over one machine definition. */
export interface OrderStepper {
  start(input: OrderInput): OrderSnapshot;
  step(snapshot: OrderSnapshot, event: OrderEvent, at: StepContext): StepResult;
  restore(persisted: unknown): OrderSnapshot;
  persist(snapshot: OrderSnapshot): unknown;
}

const steppers = new WeakMap<OrderMachine, OrderStepper>();

/** The stepper of a machine definition, built once per definition. */
export function stepperFor(machine: OrderMachine = orderMachine): OrderStepper {
  let stepper = steppers.get(machine);
  if (stepper === undefined) {
    stepper = createStepper(machine);
    steppers.set(machine, stepper);
  }
  return stepper;
}

// XState's transition() and initialTransition() build a new inert actor for every call (an actor,
// its system, and the machine's initial state computed eagerly), which costs more than the step
// itself. The order machine has no child actors and the runtime executes no action, so one inert
// scope per definition serves every step: transition() is synchronous, and each call collects its
// own actions.
type Scope = Parameters<OrderMachine['transition']>[2];
const scopeInput: OrderInput = {
  orderId: '00000000-0000-0000-0000-000000000000',
  userId: 'scope',
  currency: 'USD',
  items: [],
  subtotal: '0',
  couponCode: null,
  reservationTtlMs: 1,
  paymentDeadlineMs: 1,
};

function createStepper(machine: OrderMachine): OrderStepper {
  let collected: ActionLike[] | null = null;
  const inertSelf = createActor(machine, { input: scopeInput });
  const inertScope = {
    self: inertSelf,
    defer: () => undefined,
    id: '',
    logger: () => undefined,
    sessionId: '',
    stopChild: () => undefined,
    system: inertSelf.system,
    emit: () => undefined,
    actionExecutor: (action: ActionLike) => void collected?.push(action),
  } as unknown as Scope;
  const collecting = <T>(run: () => T): [T, ActionLike[]] => {
    const actions: ActionLike[] = [];
    collected = actions;
    try {
      return [run(), actions];
    } finally {
      collected = null;
    }
  };
  return {
    start: (input) => collecting(() => machine.getInitialSnapshot(inertScope, input))[0],
    step: (snapshot, event, at) =>
      stepWith(snapshot, event, at, (s, e) => collecting(() => machine.transition(s, e, inertScope))),
    restore: (persisted) => machine.resolveState(persisted as Parameters<OrderMachine['resolveState']>[0]),
    persist: (snapshot) => machine.getPersistedSnapshot(snapshot),
  };
}

/**
 * A stored snapshot restored into a definition: as it is when the definition's version wrote it,
 * else through the migrations from its version (NoMachinePathError when there is no path).
 */
export function restoreStored(definition: MachineVersion, persisted: unknown, machineVersion: number): OrderSnapshot {
  const stepper = stepperFor(definition.machine);
  if (machineVersion === definition.version) return stepper.restore(persisted);
  return stepper.restore(migrateSnapshot(definition, persisted as PersistedSnapshot, machineVersion));
}

/** The deployed machine's operations (the default definition): what callers without a definition use. */
export const { start, step, restore, persist } = stepperFor(orderMachine);

function stepWith(
  snapshot: OrderSnapshot,
  event: OrderEvent,
  at: StepContext,
  transition: (snapshot: OrderSnapshot, event: OrderEvent) => [OrderSnapshot, ActionLike[]],
): StepResult {
  const from = stateName(snapshot.value);
  const [next, actions] = transition(snapshot, event);
  const to = stateName(next.value);
  const context = next.context;
  return {
    snapshot: next,
    changed: next !== snapshot,
    from,
    to,
    status: statusOf(to, context),
    messages: actions.flatMap((action) => intentToMessages(action, context, at)),
    withdrawn: actions
      .filter((action) => action.type === 'withdraw')
      .map((action) => messageIdFor(context.orderId, (action.params as { type: string }).type)),
  };
}

interface ActionLike {
  type: string;
  params?: unknown;
}

function intentToMessages(action: ActionLike, context: OrderContext, at: StepContext): OutgoingMessage[] {
  const base = { orderId: context.orderId, correlationId: at.correlationId };
  switch (action.type) {
    case 'command': {
      const p = action.params as { queue: string; type: string; payload: Record<string, unknown>; retry?: number };
      // An operator's retry of an undo is a new message: the first one's id is spent (processed).
      const key = p.retry !== undefined && p.retry > 0 ? `${p.type}.retry${p.retry}` : p.type;
      return [
        {
          ...base,
          messageId: messageIdFor(context.orderId, key),
          type: p.type,
          payload: p.payload,
          destination: `queue:${p.queue}`,
        },
      ];
    }
    case 'schedule': {
      const p = action.params as { type: string; delayMs: number };
      return [
        {
          ...base,
          messageId: messageIdFor(context.orderId, p.type),
          type: p.type,
          payload: {},
          destination: 'queue:orders',
          delayMs: p.delayMs,
        },
      ];
    }
    case 'publish': {
      const p = action.params as { type: string; data: Record<string, unknown>; key?: string };
      if (!isOrderEventType(p.type)) throw new Error(`the machine published an unknown event type ${p.type}`);
      // An event published once per order is keyed by its type; one that can recur names its own key.
      const id = messageIdFor(context.orderId, `event.${p.key ?? p.type}`);
      const envelope: OrderEventEnvelope = {
        id,
        type: p.type,
        order_id: context.orderId,
        occurred_at: at.occurredAt.toISOString(),
        schema_version: eventSchemaVersion,
        data: p.data,
      };
      return [
        {
          ...base,
          messageId: id,
          type: p.type,
          payload: { ...envelope },
          destination: `kafka:${at.topic}`,
          headers: { 'event-id': id },
        },
      ];
    }
    default:
      // assign and other built-ins are applied by transition(); withdraw is read by step().
      return [];
  }
}
