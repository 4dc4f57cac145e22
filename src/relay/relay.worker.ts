// Runs the outbox relay as a BullMQ worker on queue "outbox-relay": a poll scheduler (the
// backstop), a LISTEN on 'outbox_kafka' that adds a wake-up job, the prune scheduler, and the
// heartbeat that /ready reads. The prune job is the retention job (src/retention/): it prunes the
// outbox, the inbox, notification_inbox and idempotency_keys. Any number of relay processes may run: a run takes the partitions
// no other relay holds (advisory locks), so one at a time publishes a partition.
import { Queue, Worker, type Job } from 'bullmq';
import { bullPrefixOf } from '../platform/bullmq.ts';
import type { Config } from '../platform/config.ts';
import type { Pool } from '../platform/db.ts';
import { createKafkaFromConfig, createProducer } from '../platform/kafka.ts';
import type { Logger } from '../platform/logger.ts';
import type { Metrics } from '../platform/metrics.ts';
import { listen } from '../platform/listen.ts';
import { outages } from '../platform/outage.ts';
import { isRedisConnectionError, onBullmqError, redisDependencyOf, type RedisClient } from '../platform/redis.ts';
import {
  legacyPollSchedulerIds,
  outboxRelayJobOptions,
  outboxRelayQueueName,
  pollSchedulerId,
  pruneSchedulerId,
  wakeJobId,
} from '../../queues/outbox-relay.queue.ts';
import { createRetention, retentionSettingsOf, type Retention } from '../retention/retention.job.ts';
import { readTopicWindow } from '../retention/topic-window.ts';
import { createRelay, type Relay } from './relay.ts';
import { clearRelayStatus, relayInstanceId, writeRelayStatus } from './relay.status.ts';

export interface RelayProcessDeps {
  config: Config;
  pool: Pool;
  redis: RedisClient;
  logger: Logger;
  metrics?: Metrics;
}

export interface RunningRelay {
  relay: Relay;
  queue: Queue;
  close(): Promise<void>;
}

export async function startRelay(deps: RelayProcessDeps): Promise<RunningRelay> {
  const relay = relayOf(deps);
  const retention = startRetention(deps);
  const queue = new Queue(outboxRelayQueueName, {
    connection: deps.redis,
    prefix: bullPrefixOf(deps.config.QUEUE_PREFIX),
    defaultJobOptions: outboxRelayJobOptions,
  });
  const schedulers = await startSchedulers(deps, queue);
  const worker = startRelayWorker(deps, relay, retention.job);
  queue.on('error', () => undefined); // the connection's listener reports an outage
  const waker = createWaker(deps, queue);
  const listener = listen(
    deps.config.DATABASE_URL,
    'outbox_kafka',
    deps.logger,
    waker.wake,
    'order-engine-relay-listen',
  );
  const heartbeat = await startHeartbeat(deps, relay);

  return {
    relay,
    queue,
    async close() {
      schedulers.close();
      await heartbeat.close();
      waker.close();
      retention.close();
      await listener.close();
      await worker.close();
      await queue.close();
      await relay.close();
    },
  };
}

/** The relay itself: a producer of its own, and the limits of the configuration. */
function relayOf(deps: RelayProcessDeps): Relay {
  const { config } = deps;
  const kafka = createKafkaFromConfig(config, 'relay');
  return createRelay(deps.pool, () => createProducer(kafka), deps.logger, {
    partitions: config.RELAY_PARTITIONS,
    batchSizeMax: config.RELAY_BATCH_SIZE_MAX,
    backoffMsMin: config.RELAY_BACKOFF_MS_MIN,
    backoffMsMax: config.RELAY_BACKOFF_MS_MAX,
    publishAttemptsMax: config.RELAY_PUBLISH_ATTEMPTS_MAX,
    pauseAfterPublishMs: config.RELAY_PAUSE_AFTER_PUBLISH_MS,
  });
}

/** The retention job the prune schedule runs, and its check of the topic's window at start. */
function startRetention(deps: RelayProcessDeps): { job: Retention; close(): void } {
  const { config, logger } = deps;
  const retentionKafka = createKafkaFromConfig(config, 'retention');
  const retention = createRetention(
    {
      pool: deps.pool,
      redis: deps.redis,
      queuePrefix: config.QUEUE_PREFIX,
      topic: config.KAFKA_TOPIC_ORDER_EVENTS,
      topicWindow: () => readTopicWindow(retentionKafka, config.KAFKA_TOPIC_ORDER_EVENTS),
      logger,
      metrics: deps.metrics,
    },
    retentionSettingsOf(config),
  );
  // NOTIFICATION_INBOX_RETENTION_MS is checked against the topic at start (said at once if it is too
  // short) and again by every run, which prunes no notification_inbox row while it is. Not awaited:
  // Kafka away must delay neither the relay's start nor its close.
  let closed = false;
  void retention
    .notificationWindowProblem()
    .then((problem) => problem !== null && !closed && logger.error(problem))
    .catch((error: unknown) => {
      if (!closed) logger.warn({ err: error }, 'topic retention not read at start; each prune run reads it again');
    });
  return {
    job: retention,
    close() {
      closed = true;
    },
  };
}

/** The poll backstop and the prune schedule, put back whenever Redis comes back. */
async function startSchedulers(deps: RelayProcessDeps, queue: Queue): Promise<{ close(): void }> {
  for (const id of legacyPollSchedulerIds(64)) await queue.removeJobScheduler(id);
  const upsertSchedulers = () => upsertRelaySchedulers(queue, deps.config);
  await upsertSchedulers();
  // A Redis that comes back empty (restarted without persistence) lost the schedulers, and with them
  // the poll backstop: each reconnect puts them back (an upsert, so a no-op when they survived).
  const onRedisReady = () => {
    void upsertSchedulers().catch((error: unknown) =>
      deps.logger.warn({ err: error }, 'relay schedulers not restored'),
    );
  };
  deps.redis.on('ready', onRedisReady);
  return {
    close() {
      deps.redis.off('ready', onRedisReady);
    },
  };
}

/** The BullMQ worker that runs the relay's jobs: runs, wake-ups and prunes. */
function startRelayWorker(deps: RelayProcessDeps, relay: Relay, retention: Retention): Worker {
  const { config } = deps;
  const worker = new Worker(outboxRelayQueueName, (job: Job) => processRelayJob(deps, relay, retention, job), {
    connection: deps.redis,
    prefix: bullPrefixOf(config.QUEUE_PREFIX),
    concurrency: 2,
    lockDuration: config.QUEUE_LOCK_DURATION_MS,
    stalledInterval: config.QUEUE_STALLED_INTERVAL_MS,
    maxStalledCount: config.QUEUE_MAX_STALLED_COUNT,
  });
  worker.on('error', onBullmqError(deps.logger, redisDependencyOf(deps.redis), 'relay worker'));
  // The relay's jobs count with every worker's (what a job costs is per job, whatever its queue).
  for (const result of ['completed', 'failed'] as const) {
    worker.on(result, (job?: Job) => {
      if (job?.processedOn !== undefined && job.finishedOn !== undefined) {
        deps.metrics?.jobDuration.observe(
          { queue: outboxRelayQueueName, result },
          (job.finishedOn - job.processedOn) / 1_000,
        );
      }
    });
  }
  return worker;
}

/**
 * The wake-up that LISTEN calls on each commit of Kafka-bound rows. At most one wake-up every
 * RELAY_WAKE_INTERVAL_MS: a burst of commits costs one run, and a trailing wake-up catches the rows
 * of the burst's last commits. Each wake-up is a job and a transaction, so this interval trades a
 * little lag for much less work under load.
 */
function createWaker(deps: RelayProcessDeps, queue: Queue): { wake(): void; close(): void } {
  const wakeIntervalMs = deps.config.RELAY_WAKE_INTERVAL_MS;
  let lastWakeAt = 0;
  let trailing: NodeJS.Timeout | null = null;
  const wake = () => {
    const waitMs = lastWakeAt + wakeIntervalMs - Date.now();
    if (waitMs > 0) {
      trailing ??= setTimeout(() => {
        trailing = null;
        wake();
      }, waitMs);
      return;
    }
    lastWakeAt = Date.now();
    void queue
      .add('relay', {}, { ...outboxRelayJobOptions, deduplication: { id: wakeJobId } })
      .catch((error: unknown) => {
        // While Redis is away every wake-up fails: the outage log says it once, the poll covers.
        if (isRedisConnectionError(error)) outages.down(redisDependencyOf(deps.redis), error);
        else deps.logger.warn({ err: error }, 'relay wake-up not queued; the poll will run it');
      });
  };
  return {
    wake,
    close() {
      if (trailing !== null) clearTimeout(trailing);
    },
  };
}

/** The heartbeat /ready reads: this relay's view of Kafka, every 2 s, cleared at close. */
async function startHeartbeat(deps: RelayProcessDeps, relay: Relay): Promise<{ close(): Promise<void> }> {
  const prefix = deps.config.QUEUE_PREFIX;
  const instance = relayInstanceId();
  const heartbeat = setInterval(() => {
    void writeRelayStatus(deps.redis, prefix, instance, relay.kafkaLink()).catch(() => undefined);
  }, 2_000);
  await writeRelayStatus(deps.redis, prefix, instance, relay.kafkaLink());
  return {
    async close() {
      clearInterval(heartbeat);
      await clearRelayStatus(deps.redis, prefix, instance).catch(() => undefined);
    },
  };
}

/** The poll backstop and the retention schedule; an upsert, so it is safe to repeat. */
async function upsertRelaySchedulers(queue: Queue, config: Config): Promise<void> {
  await queue.upsertJobScheduler(
    pollSchedulerId,
    { every: config.RELAY_POLL_INTERVAL_MS },
    { name: 'relay', data: {}, opts: outboxRelayJobOptions },
  );
  await queue.upsertJobScheduler(pruneSchedulerId, { every: config.PRUNE_INTERVAL_MS }, { name: 'prune', data: {} });
}

async function processRelayJob(deps: RelayProcessDeps, relay: Relay, retention: Retention, job: Job): Promise<unknown> {
  if (job.name === 'prune') {
    const pruned = await retention.run();
    if (pruned !== null && Object.values(pruned).some((n) => n > 0))
      deps.logger.info({ pruned }, 'retention: rows pruned');
    return { pruned };
  }
  const run = await relay.run();
  if (run.published > 0) deps.metrics?.relayPublished.inc(run.published);
  if (run.parked > 0) deps.metrics?.relayParked.inc(run.parked);
  return run;
}
