// How a module handles its messages once: each message's effect, its inbox row and its answers
// commit in one transaction, and a batch of messages shares that transaction (group commit): one
// inbox statement, the effects in arrival order, one outbox statement, one commit. A message seen
// before (its inbox row exists) changes nothing and answers nothing. Dispatch follows the commit.
import type { Job } from 'bullmq';
import { withTransaction, type Client, type Pool, type TransactionOptions } from '../platform/db.ts';
import type { Message, OutgoingMessage } from '../../queues/message.ts';
import type { Dispatcher } from './dispatcher.ts';
import { claimInboxBatch, insertOutbox } from './outbox.sql.ts';

export interface HandleOnceDeps {
  pool: Pool;
  dispatcher: Dispatcher;
  transaction?: TransactionOptions;
}

export type Effect = (client: Client) => Promise<OutgoingMessage[]>;

/** One message's part of a batch: the effect to apply inside the batch's transaction. */
export interface Work {
  message: Message;
  effect: Effect;
}

/**
 * What a module does with its messages. prepare runs per message outside any transaction (parse
 * the payload, call a provider, skip what is already handled); commit applies a batch of prepared
 * works in one transaction. A batch that fails is committed again item by item by the caller.
 */
export interface ModuleRuntime {
  consumer: string;
  prepare(message: Message, job?: Job): Promise<Work | null>;
  commit(works: Work[]): Promise<void>;
}

/**
 * The first work of each message id (a message delivered twice into one batch is applied once),
 * ordered by order id and, within an order, by arrival. Row and advisory locks keyed by order are
 * then taken in one order by every batch, so two batches never wait on each other in a cycle.
 */
export function firstOfEach(works: Work[]): Work[] {
  const seen = new Set<string>();
  const unique = works.filter((w) => !seen.has(w.message.messageId) && seen.add(w.message.messageId));
  return unique
    .map((work, arrival) => ({ work, arrival }))
    .sort((a, b) =>
      a.work.message.orderId < b.work.message.orderId
        ? -1
        : a.work.message.orderId > b.work.message.orderId
          ? 1
          : a.arrival - b.arrival,
    )
    .map((entry) => entry.work);
}

/**
 * Runs inside the batch's transaction after the inbox claim and before the first effect, with the
 * works claimed now: a module takes the locks its effects need here, in one order for the batch.
 */
export type BeforeEffects = (client: Client, claimed: Work[]) => Promise<void>;

/** Returns the message ids applied now (the others had been processed before). */
export async function handleBatch(
  deps: HandleOnceDeps,
  consumer: string,
  works: Work[],
  beforeEffects?: BeforeEffects,
): Promise<Set<string>> {
  const unique = firstOfEach(works);
  const { claimed, rows } = await withTransaction(
    deps.pool,
    async (client) => {
      const claimed = await claimInboxBatch(
        client,
        consumer,
        unique.map((w) => w.message.messageId),
      );
      const fresh = unique.filter((w) => claimed.has(w.message.messageId));
      if (beforeEffects !== undefined && fresh.length > 0) await beforeEffects(client, fresh);
      const answers: OutgoingMessage[] = [];
      for (const work of fresh) answers.push(...(await work.effect(client)));
      return { claimed, rows: await insertOutbox(client, answers) };
    },
    deps.transaction,
  );
  await deps.dispatcher.dispatch(rows);
  return claimed;
}

/** One message alone. Returns false when it was a duplicate. */
export async function handleOnce(
  deps: HandleOnceDeps,
  consumer: string,
  message: Message,
  effect: Effect,
): Promise<boolean> {
  return (await handleBatch(deps, consumer, [{ message, effect }])).has(message.messageId);
}
