// Steps the pure order machine and turns its intents into outgoing messages. No I/O here: the
// caller passes the clock reading, and message ids are deterministic per (order, type).
import { initialTransition, transition, type SnapshotFrom } from 'xstate';
import { orderMachine } from '../../machines/order.machine.ts';
import { stateName, statusOf } from '../../machines/order.status.ts';
import type { OrderContext, OrderEvent, OrderInput, OrderStatus } from '../../machines/order.types.ts';
import { messageIdFor, type OutgoingMessage } from '../../queues/message.ts';
import { eventSchemaVersion, isOrderEventType, type OrderEventEnvelope } from '../relay/event-envelope.ts';

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

export function restore(persisted: unknown): OrderSnapshot {
  return orderMachine.resolveState(persisted as Parameters<typeof orderMachine.resolveState>[0]);
}

export function persist(snapshot: OrderSnapshot): unknown {
  return orderMachine.getPersistedSnapshot(snapshot);
}

export function start(input: OrderInput): OrderSnapshot {
  return initialTransition(orderMachine, input)[0];
}

export function step(snapshot: OrderSnapshot, event: OrderEvent, at: StepContext): StepResult {
  const from = stateName(snapshot.value);
  const [next, actions] = transition(orderMachine, snapshot, event);
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
      const p = action.params as { queue: string; type: string; payload: Record<string, unknown> };
      return [
        {
          ...base,
          messageId: messageIdFor(context.orderId, p.type),
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
      const p = action.params as { type: string; data: Record<string, unknown> };
      if (!isOrderEventType(p.type)) throw new Error(`the machine published an unknown event type ${p.type}`);
      const id = messageIdFor(context.orderId, `event.${p.type}`);
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
