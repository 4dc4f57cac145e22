// The queue "outbox-relay": the relay's work arrives here as jobs. `relay` drains the partitions of
// the Kafka-bound outbox that no other relay holds (woken by LISTEN/NOTIFY, and by a scheduler
// every poll interval as the backstop); `prune` runs the retention job (src/retention/), which
// prunes the outbox, the inbox, notification_inbox and idempotency_keys.
import type { JobsOptions } from 'bullmq';

export const outboxRelayQueueName = 'outbox-relay';

export type OutboxRelayJob =
  { name: 'relay'; data: Record<string, never> } | { name: 'prune'; data: Record<string, never> };

/** A relay job is cheap and re-created every poll interval: no retries, no history kept. */
export const outboxRelayJobOptions: JobsOptions = {
  attempts: 1,
  removeOnComplete: true,
  removeOnFail: { count: 1_000 },
};

/** One wake-up job waits at a time, however many notifications arrive. */
export const wakeJobId = 'relay-wake';
export const pollSchedulerId = 'relay-poll';
/** The per-partition poll schedulers of earlier versions, removed at start. */
export const legacyPollSchedulerIds = (partitions: number): string[] =>
  Array.from({ length: partitions }, (_, p) => `relay-poll-p${p}`);
export const pruneSchedulerId = 'outbox-prune';
