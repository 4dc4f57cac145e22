// Apache Kafka for local runs and tests: one KRaft process (broker and controller) of ours, started
// detached from the cached jars. Tests use startKafka/stopKafka to take the broker away mid-run.
import { appendFileSync, mkdirSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { Kafka, logLevel, type Admin } from 'kafkajs';
import { loadConfig } from '../platform/config.ts';
import { ensureKafkaStorageFormatted, log4jOption, writeKafkaConfig, type KafkaListen } from './kafka-config.local.ts';
import { ensureKafkaLibs } from './kafka-libs.local.ts';
import { kafkaPaths } from './paths.ts';
import {
  isProcessAlive,
  livePidFromFile,
  removeFile,
  rotateLogIfLarger,
  spawnDetached,
  tailOfFile,
  terminateProcess,
  withLockFile,
  writePidFile,
} from './process.local.ts';
import {
  isLoopbackHost,
  ServiceError,
  type Progress,
  type ServiceStatus,
  type StartResult,
  type StopResult,
} from './service-result.ts';
import { formatDuration, isPortOpen, WaitAbortedError, waitUntil } from './wait.ts';

const pidMarker = 'kafka.Kafka';
const readyTimeoutMsDefault = 60_000;
const stopGraceMs = 30_000;
const killWaitMs = 10_000;
const logTailLines = 40;
// Long enough for another start that is resolving the jars with Maven (bounded at 5 minutes) and then waiting.
const startLockWaitMs = 7 * 60_000;
const logBytesMax = 20 * 1024 * 1024;
const javaStackFrame = /^\s+(at |\.\.\. \d+ more)/;

export interface KafkaLocalOptions {
  /** `host:port` entries; the first one is where our broker listens. Default: KAFKA_BROKERS. */
  brokers?: string[];
  readyTimeoutMs?: number;
  onProgress?: Progress;
}

interface KafkaTarget {
  brokers: string[];
  listen: KafkaListen;
  address: string;
}

function kafkaTarget(brokers?: string[]): KafkaTarget {
  const list = brokers ?? loadConfig().KAFKA_BROKERS;
  const first = list[0];
  if (first === undefined) throw new ServiceError('kafka', 'no broker address configured');
  const separator = first.lastIndexOf(':');
  const host = first.slice(0, separator);
  const port = Number(first.slice(separator + 1));
  // The controller listens on the next port: 9092 for clients, 9093 for the KRaft quorum.
  return { brokers: list, listen: { host, port, controllerPort: port + 1 }, address: first };
}

/** kafkajs with short, explicit limits and its logger off: failures reach us as rejected promises. */
function kafkaClient(brokers: string[], retries: number): Kafka {
  process.env.KAFKAJS_NO_PARTITIONER_WARNING ??= '1';
  return new Kafka({
    clientId: 'order-engine-services',
    brokers,
    connectionTimeout: 1_000,
    requestTimeout: 5_000,
    retry: { retries, initialRetryTime: 200, maxRetryTime: 1_000 },
    logLevel: logLevel.NOTHING,
  });
}

async function withAdmin<T>(brokers: string[], retries: number, work: (admin: Admin) => Promise<T>): Promise<T> {
  const admin = kafkaClient(brokers, retries).admin();
  await admin.connect();
  try {
    return await work(admin);
  } finally {
    await admin.disconnect();
  }
}

/**
 * Ready means more than an open port: the broker answers metadata, the group coordinator answers (which
 * creates __consumer_offsets), and an idempotent producer gets its producer id (which loads the
 * transaction coordinator). The engine's first consumer group and producer then start without the
 * "coordinator is loading" errors that a just-started broker returns.
 */
async function isKafkaReady(target: KafkaTarget): Promise<boolean> {
  const clusterReady = await withAdmin(target.brokers, 0, async (admin) => {
    const cluster = await admin.describeCluster();
    if (cluster.brokers.length === 0 || cluster.controller === null) return false;
    await admin.describeGroups(['order-engine-services-readiness']);
    return true;
  });
  if (!clusterReady) return false;
  // connect() of an idempotent producer sends InitProducerId and nothing else: no message is written.
  // kafkajs refuses an idempotent producer without retries; two short ones keep the probe bounded.
  const producer = kafkaClient(target.brokers, 2).producer({ idempotent: true, maxInFlightRequests: 1 });
  try {
    await producer.connect();
  } finally {
    await producer.disconnect();
  }
  return true;
}

async function waitForKafkaReady(target: KafkaTarget, options: KafkaLocalOptions, ourPid?: number): Promise<void> {
  const service = `kafka ${target.address}`;
  const onProgress = options.onProgress;
  await waitUntil(
    async () => {
      if (ourPid !== undefined && !isProcessAlive(ourPid))
        throw new WaitAbortedError(`the broker (pid ${ourPid}) exited`);
      return isKafkaReady(target);
    },
    {
      description: 'waiting for metadata, the group coordinator and a producer id',
      timeoutMs: options.readyTimeoutMs ?? readyTimeoutMsDefault,
      intervalMs: 250,
      ...(onProgress === undefined ? {} : { onProgress: (line: string) => onProgress(`${service}: ${line}`) }),
    },
  ).catch((error: unknown) => {
    const lines = tailOfFile(kafkaPaths.outFile, logTailLines, javaStackFrame);
    const tail = `--- last lines of ${kafkaPaths.outFile}, without stack frames ---\n${lines}`;
    const message = `${(error as Error).message}; log: ${kafkaPaths.outFile}`;
    throw new ServiceError(service, message, ourPid === undefined ? undefined : tail);
  });
}

/**
 * Starts our broker unless one answers already (then it is reused, ours or not), and resolves once it is
 * ready. Idempotent: a broker of ours that is still starting is waited for, never started twice.
 */
export async function startKafka(options: KafkaLocalOptions = {}): Promise<StartResult> {
  const target = kafkaTarget(options.brokers);
  mkdirSync(kafkaPaths.dir, { recursive: true });
  const lockLimits = { waitMs: startLockWaitMs, ...(options.onProgress ? { onProgress: options.onProgress } : {}) };
  return withLockFile(kafkaPaths.startLock, lockLimits, () => startKafkaLocked(target, options));
}

async function startKafkaLocked(target: KafkaTarget, options: KafkaLocalOptions): Promise<StartResult> {
  const runningPid = livePidFromFile(kafkaPaths.pidFile, pidMarker);
  if (runningPid !== undefined || (await isPortOpen(target.listen.host, target.listen.port))) {
    await waitForKafkaReady(target, options, runningPid);
    const detail = runningPid === undefined ? 'not ours' : 'ours';
    return runningPid === undefined ? { action: 'reused', detail } : { action: 'reused', pid: runningPid, detail };
  }
  if (!isLoopbackHost(target.listen.host)) {
    throw new ServiceError(`kafka ${target.address}`, 'does not answer, and it is not on this machine');
  }
  // A taken controller port makes the JVM die a few seconds in; saying so up front is clearer.
  if (await isPortOpen(target.listen.host, target.listen.controllerPort)) {
    const controller = `${target.listen.host}:${target.listen.controllerPort}`;
    throw new ServiceError(`kafka ${target.address}`, `the controller port ${controller} is taken by another program`);
  }
  return launchKafka(target, options);
}

/** Prints each phase of a cold start with its duration: jars, config and storage, then start to ready. */
async function launchKafka(target: KafkaTarget, options: KafkaLocalOptions): Promise<StartResult> {
  const report = (line: string, startedAt: number) =>
    options.onProgress?.(`${line} (${formatDuration(performance.now() - startedAt)})`);
  let startedAt = performance.now();
  const libs = await ensureKafkaLibs(options.onProgress);
  report(
    `kafka libs: ${libs.action === 'cached' ? 'cached' : 'resolved with Maven'}, ${libs.jarCount} jars`,
    startedAt,
  );

  startedAt = performance.now();
  writeKafkaConfig(target.listen);
  const formatted = await ensureKafkaStorageFormatted(libs.classPath);
  report(`kafka storage: ${formatted ? 'formatted' : 'already formatted'} ${kafkaPaths.dataDir}`, startedAt);

  startedAt = performance.now();
  rotateLogIfLarger(kafkaPaths.outFile, logBytesMax);
  appendFileSync(kafkaPaths.outFile, `\n--- services:up starting kafka at ${new Date().toISOString()} ---\n`);
  const javaArgs = ['-Xmx512m', '-Xms128m', '-Djava.awt.headless=true', log4jOption()];
  const pid = spawnDetached('java', [...javaArgs, '-cp', libs.classPath, 'kafka.Kafka', kafkaPaths.serverProperties], {
    outFile: kafkaPaths.outFile,
    cwd: kafkaPaths.dir,
  });
  writePidFile(kafkaPaths.pidFile, pid);
  options.onProgress?.(`kafka: started pid ${pid}, output in ${kafkaPaths.outFile}; waiting until ready`);
  await waitForKafkaReady(target, options, pid);
  report(`kafka: ready`, startedAt);
  return { action: 'started', pid };
}

/**
 * Stops our broker: SIGTERM (a controlled shutdown), then SIGKILL after a bounded grace, and resolves once
 * the process is gone and its port closed. A broker that is not ours throws with `requireOurs` (the
 * default, for tests) and is reported as `not-ours` otherwise.
 */
export async function stopKafka(options: { brokers?: string[]; requireOurs?: boolean } = {}): Promise<StopResult> {
  const target = kafkaTarget(options.brokers);
  const pid = livePidFromFile(kafkaPaths.pidFile, pidMarker);
  if (pid === undefined) {
    removeFile(kafkaPaths.pidFile);
    if (!(await isPortOpen(target.listen.host, target.listen.port))) return { action: 'not-running' };
    if (options.requireOurs ?? true) {
      throw new ServiceError(`kafka ${target.address}`, 'answers, but services:up did not start it; not stopping it');
    }
    return { action: 'not-ours' };
  }
  const action = await terminateProcess(pid, { graceMs: stopGraceMs, killWaitMs });
  removeFile(kafkaPaths.pidFile);
  return { action, pid };
}

export interface TopicResult {
  action: 'created' | 'exists';
  partitionCount: number;
}

/** Creates `topic` (RF 1, one node) when missing; an existing topic is left as it is and reported. */
export async function ensureTopic(topic: string, partitionCount: number, brokers?: string[]): Promise<TopicResult> {
  const target = kafkaTarget(brokers);
  return withAdmin(target.brokers, 3, async (admin) => {
    if (!(await admin.listTopics()).includes(topic)) {
      const topics = [{ topic, numPartitions: partitionCount, replicationFactor: 1 }];
      const created = await admin.createTopics({ topics, waitForLeaders: true, timeout: 10_000 });
      if (created) return { action: 'created', partitionCount };
    }
    const metadata = await admin.fetchTopicMetadata({ topics: [topic] });
    return { action: 'exists', partitionCount: metadata.topics[0]?.partitions.length ?? 0 };
  });
}

export async function kafkaStatus(brokers?: string[]): Promise<ServiceStatus> {
  const target = kafkaTarget(brokers);
  const pid = livePidFromFile(kafkaPaths.pidFile, pidMarker);
  const up = await isPortOpen(target.listen.host, target.listen.port);
  const base = { service: 'kafka', address: target.address, up };
  if (pid === undefined) return { ...base, ours: false };
  return { ...base, ours: true, pid, ...(up ? {} : { detail: 'process runs but the port is closed (starting?)' }) };
}
