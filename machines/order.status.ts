// Pure helpers over order snapshots: the public status, the state name, the intents.
import type { AnyMachineSnapshot } from 'xstate';
import type { OrderContext, OrderStatus, Outcome } from './order.types.ts';

// The status sets, listed here once; chaos, tests, SQL parameters and schemas import them.

/** Statuses of orders still moving. */
export const inFlightStatuses = ['pending', 'cancelling'] as const satisfies readonly OrderStatus[];
/** The final statuses other than confirmed: an order that ended with one of these outcomes. */
export const outcomeStatuses = ['rejected', 'failed', 'expired', 'cancelled'] as const satisfies readonly Outcome[];
/** Final statuses: an order in one never moves again. */
export const finalStatuses = ['confirmed', ...outcomeStatuses] as const satisfies readonly OrderStatus[];
/**
 * Statuses of orders halted until an operator acts: neither moving nor final (a compensation that
 * could not be done). Never stuck (nothing will move them by itself) and never final.
 */
export const haltedStatuses = ['needs_attention'] as const satisfies readonly OrderStatus[];
/** Every status, in the order the API and the metrics list them. */
export const orderStatuses = [
  'pending',
  'confirmed',
  'rejected',
  'failed',
  'expired',
  'cancelling',
  'cancelled',
  'needs_attention',
] as const satisfies readonly OrderStatus[];

// Each list above names every status it should: a status added to OrderStatus and to no list
// fails the build here.
type Unlisted = Exclude<OrderStatus, (typeof orderStatuses)[number]>;
type Unsorted = Exclude<
  OrderStatus,
  (typeof inFlightStatuses)[number] | (typeof finalStatuses)[number] | (typeof haltedStatuses)[number]
>;
const _everyStatusListed: [Unlisted | Unsorted] extends [never] ? true : never = true;

const finalStatusSet = new Set<string>(finalStatuses);

/** 'compensating.refunding' for nested states, 'charging' for flat ones. */
export function stateName(value: AnyMachineSnapshot['value']): string {
  if (typeof value === 'string') return value;
  const [key, inner] = Object.entries(value)[0] ?? ['unknown', ''];
  return inner === undefined ? key : `${key}.${stateName(inner as AnyMachineSnapshot['value'])}`;
}

export function statusOf(state: string, context: Pick<OrderContext, 'outcome'>): OrderStatus {
  if (finalStatusSet.has(state)) return state as OrderStatus;
  if (state === 'needsAttention') return 'needs_attention';
  if (state.startsWith('compensating') && context.outcome === 'cancelled') return 'cancelling';
  return 'pending';
}

export function isFinalStatus(status: string): boolean {
  return finalStatusSet.has(status);
}
