// A compensation that cannot be done is escalated, never left waiting. When a module's undo
// command (queues' undoCommands: refund, ledger reversal, coupon restore, stock release) ends
// failed for good (its attempts exhausted, or a permanent refusal such as the provider's
// refund_refused), the worker records its dead letter and answers the order with
// compensation.failed in one transaction: the machine halts in needsAttention (status
// needs_attention) until an operator resolves it. The failed message is claimed in the module's
// inbox in that transaction: it is settled (its outbox row processed, so the sweeper never hands it
// over again, and a redrive of its dead letter does nothing); an operator's retry sends the undo
// anew under a message id of its own. Only the failure path pays for this: nothing runs on success.
import type { Job } from 'bullmq';
import type { Message, OutgoingMessage } from '../../queues/message.ts';
import { isUndoCommand } from '../../queues/queues.ts';
import { handleBatch, type HandleOnceDeps } from './handle-once.ts';
import { insertDeadLetter, type DeadLetterInput } from './outbox.sql.ts';

/** Why an undo failed for good, as the order records it. */
export function escalationReason(error: Error, permanent: boolean): string {
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string' && /^[a-z][a-z0-9_]{0,63}$/.test(code)) return code;
  return permanent ? 'permanent_error' : 'attempts_exhausted';
}

/**
 * The answer that halts the order: its id is the failed message's own with `.failed`, so a retried
 * undo that fails again answers under a new id (the retry's message id differs).
 */
export function compensationFailed(message: Message, reason: string): OutgoingMessage {
  return {
    messageId: `${message.messageId}.failed`,
    orderId: message.orderId,
    correlationId: message.correlationId,
    type: 'compensation.failed',
    payload: { command: message.type, reason },
    destination: 'queue:orders',
  };
}

/**
 * Records a job that ended failed. An undo command also escalates its order, in the dead letter's
 * transaction; anything else (or an undo its consumer had processed after all) is only dead-lettered.
 * Returns whether the order was escalated.
 */
export async function settleFailedJob(
  deps: HandleOnceDeps,
  consumer: string,
  letter: DeadLetterInput,
  message: Message | null,
  reason: string,
): Promise<boolean> {
  if (message !== null && isUndoCommand(message.type)) {
    const claimed = await handleBatch(deps, consumer, [
      {
        message,
        effect: async (client) => {
          await insertDeadLetter(client, letter);
          return [compensationFailed(message, reason)];
        },
      },
    ]);
    if (claimed.has(message.messageId)) return true;
  }
  await insertDeadLetter(deps.pool, letter);
  return false;
}

/** The dead letter of a job, as dead_letters keeps it. */
export function deadLetterOf(queue: string, job: Job, error: Error): DeadLetterInput {
  return {
    queue,
    jobId: job.id ?? '',
    messageId: (job.data as { messageId?: string }).messageId ?? null,
    data: job.data,
    error: error.message,
    attempts: job.attemptsMade,
  };
}
