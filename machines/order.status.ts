// Pure helpers over order snapshots: the public status, the state name, the intents.
import type { AnyMachineSnapshot } from 'xstate';
import type { OrderContext, OrderStatus } from './order.types.ts';

const finalStatuses = new Set<string>(['confirmed', 'rejected', 'failed', 'expired', 'cancelled']);

/** 'compensating.refunding' for nested states, 'charging' for flat ones. */
export function stateName(value: AnyMachineSnapshot['value']): string {
  if (typeof value === 'string') return value;
  const [key, inner] = Object.entries(value)[0] ?? ['unknown', ''];
  return inner === undefined ? key : `${key}.${stateName(inner as AnyMachineSnapshot['value'])}`;
}

export function statusOf(state: string, context: Pick<OrderContext, 'outcome'>): OrderStatus {
  if (finalStatuses.has(state)) return state as OrderStatus;
  if (state.startsWith('compensating') && context.outcome === 'cancelled') return 'cancelling';
  return 'pending';
}

export function isFinalStatus(status: string): boolean {
  return finalStatuses.has(status);
}
