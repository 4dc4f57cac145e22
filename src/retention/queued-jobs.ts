// Which messages BullMQ still holds a job for. A job kept in Redis, in any state, can run again: a
// waiting duplicate, a failed or completed job retried by hand from Bull Board. Its message's inbox
// row must stay (rule d of migrations/013_retention.sql). Every job of a message has the message id
// as its job id (the dispatcher's rule, and the redrive's), and the consumer is the queue's name.
import { QueueKeys } from 'bullmq';
import type { RedisClient } from '../platform/redis.ts';
import { bullPrefixOf } from '../platform/bullmq.ts';

export interface QueuedMessage {
  consumer: string;
  message_id: string;
}

/** A message's identity in the returned set. */
export const queuedKeyOf = (message: QueuedMessage): string => `${message.consumer}\n${message.message_id}`;

/**
 * The messages among `messages` that have a job in their consumer's queue, in one round trip (a
 * pipeline of EXISTS on each job's hash). Throws if Redis does not answer: the caller then keeps
 * every row, which is the safe side.
 */
export async function messagesWithJobs(
  redis: RedisClient,
  queuePrefix: string,
  messages: readonly QueuedMessage[],
): Promise<Set<string>> {
  if (messages.length === 0) return new Set();
  const keys = new QueueKeys(bullPrefixOf(queuePrefix));
  const pipeline = redis.pipeline();
  for (const message of messages) pipeline.exists(keys.toKey(message.consumer, message.message_id));
  const answers = (await pipeline.exec()) ?? [];
  if (answers.length !== messages.length) throw new Error('Redis answered part of the job lookup');
  const held = new Set<string>();
  answers.forEach(([error, exists], index) => {
    if (error !== null) throw error;
    if (exists === 1) held.add(queuedKeyOf(messages[index]!));
  });
  return held;
}
