// The queue "outbox-relay": the relay's work arrives here as jobs. `relay` {partition} drains one
// partition of the Kafka-bound outbox (woken by LISTEN/NOTIFY, and by a scheduler every poll
// interval as the backstop); `prune` deletes delivered rows past their retention.
import type { JobsOptions } from 'bullmq';

export const outboxRelayQueueName = 'outbox-relay';

export type OutboxRelayJob =
  { name: 'relay'; data: { partition: number } } | { name: 'prune'; data: Record<string, never> };

/** A relay job is cheap and re-created every poll interval: no retries, no history kept. */
export const outboxRelayJobOptions: JobsOptions = {
  attempts: 1,
  removeOnComplete: true,
  removeOnFail: { count: 1_000 },
};

/** One wake-up job per partition waits at a time, however many notifications arrive. */
export const wakeJobId = (partition: number): string => `relay-wake-p${partition}`;
export const pollSchedulerId = (partition: number): string => `relay-poll-p${partition}`;
export const pruneSchedulerId = 'outbox-prune';
