// An operator resolves an order halted in needs_attention (an undo failed for good): `retry` sends
// the failed undo again (under a message id of its own), `mark_compensated` says that undo was done
// by hand outside the engine (money moved, a posting made): no ledger row is written for it, and
// compensation goes on with the remaining undos (coupon, stock) to the outcome it was heading to,
// failed or cancelled. The order.resolve event, with the operator's note, is stepped
// in the route's transaction (its transition row keeps the note), with the caller's audit row and
// the removal of the order's settled dead letters: all of it commits together, or none of it.
import { err, ok, type Result } from '../domain/errors.ts';
import { withTransaction, type Client } from '../platform/db.ts';
import { dropSettledDeadLetters } from '../messaging/outbox.sql.ts';
import { messageIdFor, type Message } from '../../queues/message.ts';
import type { ResolveAction } from '../../machines/order.types.ts';
import { applyOrderEvents } from './order.actor.ts';
import { readOrder, type OrderServiceDeps } from './order.service.ts';

export interface ResolveRequest {
  action: ResolveAction;
  note: string;
  /** The operator's id, kept in the transition's event. */
  operator: string;
}

export interface Resolved {
  id: string;
  status: string;
  state: string;
  /** Dead letters of the order that were settled by the escalation and are now gone. */
  deadLettersDropped: string[];
}

/** Runs inside the resolve's transaction with its result, so an audit row commits with it. */
export type ResolveRecorder = (client: Client, result: Result<Resolved>) => Promise<void>;

export async function resolveAttention(
  deps: OrderServiceDeps,
  orderId: string,
  request: ResolveRequest,
  correlationId: string,
  record?: ResolveRecorder,
): Promise<Result<Resolved>> {
  const outcome = await withTransaction(
    deps.pool,
    async (client) => {
      const result = await stepResolve(client, deps, orderId, request, correlationId);
      await record?.(client, result.result);
      return result;
    },
    deps.transaction,
  );
  await deps.dispatcher.dispatch(outcome.rows);
  return outcome.result;
}

async function stepResolve(
  client: Client,
  deps: Pick<OrderServiceDeps, 'topic' | 'machine'>,
  orderId: string,
  request: ResolveRequest,
  correlationId: string,
) {
  const refused = (result: Result<Resolved>) => ({ result, rows: [] });
  const order = await readOrder(client, orderId);
  if (order === undefined) return refused(err('order_not_found', `order ${orderId} does not exist`, 'id'));
  const notInAttention = () =>
    refused(
      err(
        'order_not_in_attention',
        `order ${orderId} is ${order.status} (${order.state}): only an order in needs_attention is resolved`,
        'id',
      ),
    );
  if (order.status !== 'needs_attention') return notInAttention();
  // One resolve per version of the order: a second click on the same version is a duplicate.
  const message: Message = {
    messageId: messageIdFor(orderId, `order.resolve.v${order.version}`),
    orderId,
    correlationId,
    type: 'order.resolve',
    payload: { action: request.action, note: request.note, operator: request.operator },
  };
  const received = await applyOrderEvents(client, [message], deps.topic, deps.machine);
  const step = received.notices[0];
  // The actor decides again under the row lock: another resolve may have come first.
  if (step === undefined) return notInAttention();
  const dropped = await dropSettledDeadLetters(client, orderId);
  return {
    result: ok({ id: orderId, status: step.status, state: step.to, deadLettersDropped: dropped }),
    rows: received.rows,
  };
}
