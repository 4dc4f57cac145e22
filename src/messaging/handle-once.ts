// How a module handles its messages once: each message's effect, its inbox row and its answers
// commit in one transaction, and a batch of messages shares that transaction (group commit): one
// inbox statement, the effects in arrival order, one outbox statement, one commit. A message seen
// before (its inbox row exists) changes nothing and answers nothing. Dispatch follows the commit.
// An answer whose receiver is given (the order actor) is not sent as a job: the receiver applies it
// in the same transaction, with its own inbox row, and its own next messages join the outbox.
import type { Job } from 'bullmq';
import { withTransaction, type Client, type Pool, type TransactionOptions } from '../platform/db.ts';
import type { Message, OutgoingMessage } from '../../queues/message.ts';
import type { Dispatcher } from './dispatcher.ts';
import { claimInboxBatch, insertOutbox, type OutboxRow } from './outbox.sql.ts';

/** What a receiver did with the messages it applied: outbox rows to dispatch, and notices for after the commit. */
export interface Received<N> {
  rows: OutboxRow[];
  notices: N[];
}

/**
 * A module that takes its messages inside the sender's transaction instead of as jobs: the answer
 * and its effect commit together, or neither does. Messages come ordered by order id.
 */
export interface LocalReceiver<N = unknown> {
  consumer: string;
  receive(client: Client, messages: Message[]): Promise<Received<N>>;
  /** After the sender's commit, with the notices of every receive in it. */
  committed(notices: N[]): void;
}

export interface HandleOnceDeps {
  pool: Pool;
  dispatcher: Dispatcher;
  transaction?: TransactionOptions;
  /** Answers to this receiver's queue are applied in the sender's transaction (absent: sent as jobs). */
  receiver?: LocalReceiver;
}

export type Effect = (client: Client) => Promise<OutgoingMessage[]>;

/**
 * An effect a module applies to many messages at once, in set-based statements: the works that
 * name the same one (by `name`) run together, at the place of the first of them, with one call.
 * Their messages are for distinct orders (a module answers each order's command once).
 */
export interface BatchEffect {
  name: string;
  apply(client: Client, works: Work[]): Promise<OutgoingMessage[]>;
}

/** One message's part of a batch: the effect to apply inside the batch's transaction. */
export interface Work {
  message: Message;
  effect: Effect;
  /** When given, the message's effect is applied with the others of this batch effect, not alone. */
  batch?: BatchEffect;
  /** What prepare learnt for the batch effect (a provider's answer, say). */
  prepared?: unknown;
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
  const { claimed, rows, notices } = await withTransaction(
    deps.pool,
    async (client) => {
      const claimed = await claimInboxBatch(
        client,
        consumer,
        unique.map((w) => w.message.messageId),
      );
      const fresh = unique.filter((w) => claimed.has(w.message.messageId));
      if (beforeEffects !== undefined && fresh.length > 0) await beforeEffects(client, fresh);
      const answers = await applyEffects(client, fresh);
      return { claimed, ...(await deliver(client, deps.receiver, answers)) };
    },
    deps.transaction,
  );
  await deps.dispatcher.dispatch(rows);
  if (notices.length > 0) deps.receiver?.committed(notices);
  return claimed;
}

/**
 * Runs each work's effect in order; the works of one batch effect run together where the first of
 * them stands. Returns the answers ordered by order id, as the effects ran.
 */
async function applyEffects(client: Client, works: Work[]): Promise<OutgoingMessage[]> {
  const batched = new Map<string, { effect: BatchEffect; works: Work[] }>();
  for (const work of works) {
    if (work.batch === undefined) continue;
    const group = batched.get(work.batch.name) ?? { effect: work.batch, works: [] };
    group.works.push(work);
    batched.set(work.batch.name, group);
  }
  const answers: OutgoingMessage[] = [];
  for (const work of works) {
    if (work.batch === undefined) {
      answers.push(...(await work.effect(client)));
      continue;
    }
    const group = batched.get(work.batch.name);
    if (group === undefined) continue; // ran with the first of its batch
    batched.delete(work.batch.name);
    answers.push(...(await group.effect.apply(client, group.works)));
  }
  return answers.sort((a, b) => (a.orderId < b.orderId ? -1 : a.orderId > b.orderId ? 1 : 0));
}

/**
 * Hands each answer on inside the transaction: to the local receiver when it is the answer's
 * destination, else to the outbox. Answers stay in order by order id (the effects ran in that order).
 */
async function deliver(
  client: Client,
  receiver: LocalReceiver | undefined,
  answers: OutgoingMessage[],
): Promise<{ rows: OutboxRow[]; notices: unknown[] }> {
  const local = receiver === undefined ? '' : `queue:${receiver.consumer}`;
  const received = answers.filter((a) => a.destination === local);
  const sent = received.length === 0 ? answers : answers.filter((a) => a.destination !== local);
  const rows = await insertOutbox(client, sent);
  if (received.length === 0 || receiver === undefined) return { rows, notices: [] };
  const applied = await receiver.receive(client, received);
  return { rows: [...rows, ...applied.rows], notices: applied.notices };
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
