// The retention job: one run prunes the outbox and the three tables that drop duplicates (inbox,
// notification_inbox, idempotency_keys), each by its own module's statement and under the rules of
// migrations/013_retention.sql. It runs as the `prune` job of queue outbox-relay, on the relay's
// scheduler. Deletes go in batches of PRUNE_BATCH_MAX rows, each its own short transaction, and a
// run looks at no more than PRUNE_RUN_ROWS_MAX rows per table: a backlog drains over several runs
// and never holds a long transaction. One run at a time fleet-wide (an advisory lock).
import type { RedisClient } from '../platform/redis.ts';
import { deleteInboxRows, inboxPruneCandidates, type InboxRowKey } from '../messaging/inbox-retention.sql.ts';
import { pruneNotificationInbox } from '../notifications/notifications.sql.ts';
import { pruneExpiredKeys } from '../orders/order-keys.sql.ts';
import type { Config } from '../platform/config.ts';
import type { Pool } from '../platform/db.ts';
import type { Logger } from '../platform/logger.ts';
import type { Metrics } from '../platform/metrics.ts';
import { pruneDelivered } from '../messaging/outbox.sql.ts';
import { messagesWithJobs, queuedKeyOf } from './queued-jobs.ts';
import { notificationWindowProblem, type TopicWindow } from './topic-window.ts';

/** In the order a run prunes them: the table that asks Kafka first comes last. */
export const retainedTables = ['outbox', 'inbox', 'idempotency_keys', 'notification_inbox'] as const;
export type RetainedTable = (typeof retainedTables)[number];
export type PruneReport = Record<RetainedTable, number>;

export interface RetentionSettings {
  outboxRetentionMs: number;
  inboxRetentionMs: number;
  notificationInboxRetentionMs: number;
  idempotencyKeyTtlMs: number;
  batchMax: number;
  runRowsMax: number;
}

export function retentionSettingsOf(config: Config): RetentionSettings {
  return {
    outboxRetentionMs: config.OUTBOX_RETENTION_MS,
    inboxRetentionMs: config.INBOX_RETENTION_MS,
    notificationInboxRetentionMs: config.NOTIFICATION_INBOX_RETENTION_MS,
    idempotencyKeyTtlMs: config.IDEMPOTENCY_KEY_TTL_MS,
    batchMax: config.PRUNE_BATCH_MAX,
    runRowsMax: config.PRUNE_RUN_ROWS_MAX,
  };
}

export interface RetentionDeps {
  pool: Pool;
  /** BullMQ's Redis, where the inbox rule looks for jobs of a message. */
  redis: RedisClient;
  queuePrefix: string;
  /** The order-events topic, and how to read its redelivery window from Kafka. */
  topic: string;
  topicWindow(): Promise<TopicWindow>;
  logger: Logger;
  metrics?: Metrics;
}

export interface Retention {
  /** One run; null when another run (in any process) holds the lock. */
  run(): Promise<PruneReport | null>;
  /** Why notification_inbox may not be pruned now (one line naming the setting), or null. */
  notificationWindowProblem(): Promise<string | null>;
}

const retentionLockNamespace = 727_004;

export function createRetention(deps: RetentionDeps, settings: RetentionSettings): Retention {
  for (const table of retainedTables) deps.metrics?.rowsPruned.inc({ table }, 0);
  let reported: string | null = null;
  const windowProblem = async () =>
    notificationWindowProblem(settings.notificationInboxRetentionMs, deps.topic, await deps.topicWindow());
  const pruners: Record<RetainedTable, () => Promise<number>> = {
    outbox: () =>
      inBatches(settings, async (limit) => {
        const deleted = await pruneDelivered(deps.pool, settings.outboxRetentionMs, limit);
        return { deleted, examined: deleted };
      }),
    inbox: () => pruneInbox(deps, settings),
    notification_inbox: async () => {
      // Said once when it starts and once when it ends, not every run.
      const problem = await windowProblem();
      if (problem !== reported)
        deps.logger[problem === null ? 'info' : 'error'](problem ?? 'notification_inbox pruned again');
      reported = problem;
      if (problem !== null) return 0;
      return inBatches(settings, async (limit) => {
        const deleted = await pruneNotificationInbox(deps.pool, settings.notificationInboxRetentionMs, limit);
        return { deleted, examined: deleted };
      });
    },
    idempotency_keys: () =>
      inBatches(settings, async (limit) => {
        const deleted = await pruneExpiredKeys(deps.pool, settings.idempotencyKeyTtlMs, limit);
        return { deleted, examined: deleted };
      }),
  };
  return {
    run: () => exclusively(deps.pool, () => pruneEach(deps, pruners)),
    notificationWindowProblem: windowProblem,
  };
}

/** Each table alone: one that fails (Redis or Kafka away) keeps its rows, and the others still go. */
async function pruneEach(
  deps: RetentionDeps,
  pruners: Record<RetainedTable, () => Promise<number>>,
): Promise<PruneReport> {
  const report = { outbox: 0, inbox: 0, idempotency_keys: 0, notification_inbox: 0 };
  for (const table of retainedTables) {
    try {
      report[table] = await pruners[table]();
    } catch (error) {
      deps.logger.warn({ err: error, table }, 'retention: table not pruned this run; the next run tries again');
    }
    deps.metrics?.rowsPruned.inc({ table }, report[table]);
  }
  return report;
}

interface BatchOutcome {
  deleted: number;
  /** Rows the batch looked at; fewer than its limit means nothing is left to look at. */
  examined: number;
}

/** Runs batches until one comes back short or the run has looked at runRowsMax rows. */
async function inBatches(
  settings: RetentionSettings,
  batch: (limit: number) => Promise<BatchOutcome>,
): Promise<number> {
  let examined = 0;
  let deleted = 0;
  while (examined < settings.runRowsMax) {
    const limit = Math.min(settings.batchMax, settings.runRowsMax - examined);
    const outcome = await batch(limit);
    examined += outcome.examined;
    deleted += outcome.deleted;
    if (outcome.examined < limit) break;
  }
  return deleted;
}

/**
 * The inbox: PostgreSQL names the rows rules a-c let go, Redis says which of them BullMQ still holds
 * a job for (rule d), and the DELETE takes the rest, checking a-c again. A keyset cursor walks past
 * the held rows, so they never stall the rows behind them.
 */
function pruneInbox(deps: RetentionDeps, settings: RetentionSettings): Promise<number> {
  let after: InboxRowKey | null = null;
  return inBatches(settings, async (limit) => {
    const candidates = await inboxPruneCandidates(deps.pool, settings.inboxRetentionMs, after, limit);
    after = candidates.at(-1) ?? after;
    const held = await messagesWithJobs(deps.redis, deps.queuePrefix, candidates);
    const free = candidates.filter((row) => !held.has(queuedKeyOf(row)));
    const deleted = await deleteInboxRows(deps.pool, settings.inboxRetentionMs, free);
    return { deleted, examined: candidates.length };
  });
}

/** Runs `work` while holding the retention lock on a connection of its own; null if it is taken. */
async function exclusively<T>(pool: Pool, work: () => Promise<T>): Promise<T | null> {
  const client = await pool.connect();
  // A connection that failed a lock statement is closed, not pooled: its session lock goes with it.
  let broken: Error | undefined;
  const lockStatement = async (sql: string) => {
    try {
      return (await client.query<{ done: boolean }>(sql, [retentionLockNamespace])).rows[0]?.done === true;
    } catch (error) {
      broken = error as Error;
      throw error;
    }
  };
  try {
    if (!(await lockStatement('SELECT pg_try_advisory_lock($1, 0) AS done'))) return null;
    try {
      return await work();
    } finally {
      await lockStatement('SELECT pg_advisory_unlock($1, 0) AS done').catch(() => undefined);
    }
  } finally {
    client.release(broken);
  }
}
