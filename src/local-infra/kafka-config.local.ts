// Our single-node KRaft broker's files: server.properties, log4j.properties, and the storage format that
// KRaft needs once per data directory. Written on every start, so a change here takes effect at once.
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { kafkaPaths } from './paths.ts';
import { commandOutputOf, runCommand } from './process.local.ts';
import { ServiceError } from './service-result.ts';

const storageToolTimeoutMs = 60_000;

export interface KafkaListen {
  host: string;
  port: number;
  controllerPort: number;
}

function serverProperties(listen: KafkaListen): string {
  const broker = `${listen.host}:${listen.port}`;
  const controller = `${listen.host}:${listen.controllerPort}`;
  return [
    '# Written by src/local-infra/kafka-config.local.ts on every services:up; edits here are overwritten.',
    'process.roles=broker,controller',
    'node.id=1',
    `controller.quorum.voters=1@${controller}`,
    `listeners=PLAINTEXT://${broker},CONTROLLER://${controller}`,
    `advertised.listeners=PLAINTEXT://${broker}`,
    'listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT',
    'controller.listener.names=CONTROLLER',
    'inter.broker.listener.name=PLAINTEXT',
    `log.dirs=${kafkaPaths.dataDir}`,
    'num.partitions=6',
    'auto.create.topics.enable=true',
    // One node: every internal topic must live with a single replica, or it is never created.
    'offsets.topic.replication.factor=1',
    // Fewer offset partitions than the default 50 make the group coordinator ready sooner after a start.
    'offsets.topic.num.partitions=10',
    'transaction.state.log.replication.factor=1',
    'transaction.state.log.min.isr=1',
    'transaction.state.log.num.partitions=10',
    // Consumer groups in tests join at once instead of waiting 3 s for more members.
    'group.initial.rebalance.delay.ms=0',
    // Local data only: a week of retention, and smaller segments so the data dir stays small.
    'log.retention.hours=168',
    'log.segment.bytes=104857600',
    '',
  ].join('\n');
}

function log4jProperties(): string {
  return [
    '# Written by src/local-infra/kafka-config.local.ts. Everything goes to stdout, which is kafka.out.',
    'log4j.rootLogger=INFO, stdout',
    'log4j.appender.stdout=org.apache.log4j.ConsoleAppender',
    'log4j.appender.stdout.layout=org.apache.log4j.PatternLayout',
    'log4j.appender.stdout.layout.ConversionPattern=[%d] %p %m (%c)%n',
    // Per-request and per-partition chatter would bury the lines that explain a failed start.
    'log4j.logger.kafka.request.logger=WARN',
    'log4j.logger.state.change.logger=WARN',
    'log4j.logger.org.apache.kafka.storage.internals.log=WARN',
    'log4j.logger.kafka.log=WARN',
    '',
  ].join('\n');
}

export function writeKafkaConfig(listen: KafkaListen): void {
  mkdirSync(kafkaPaths.dataDir, { recursive: true });
  writeFileSync(kafkaPaths.serverProperties, serverProperties(listen));
  writeFileSync(kafkaPaths.log4jProperties, log4jProperties());
}

export function log4jOption(): string {
  return `-Dlog4j.configuration=file:${kafkaPaths.log4jProperties}`;
}

/** Formats the data directory once (a new cluster id); returns false when meta.properties shows it is done. */
export async function ensureKafkaStorageFormatted(classPath: string): Promise<boolean> {
  if (existsSync(join(kafkaPaths.dataDir, 'meta.properties'))) return false;
  const storageTool = ['-cp', classPath, log4jOption(), 'kafka.tools.StorageTool'];
  try {
    const { stdout } = await runCommand('java', [...storageTool, 'random-uuid'], { timeoutMs: storageToolTimeoutMs });
    const clusterId = stdout.trim().split('\n').at(-1)?.trim() ?? '';
    if (!/^[A-Za-z0-9_-]{22}$/.test(clusterId)) throw new Error(`random-uuid printed ${JSON.stringify(stdout)}`);
    const format = ['format', '-t', clusterId, '-c', kafkaPaths.serverProperties];
    await runCommand('java', [...storageTool, ...format], { timeoutMs: storageToolTimeoutMs });
  } catch (error) {
    throw new ServiceError(
      'kafka',
      `formatting ${kafkaPaths.dataDir}: ${(error as Error).message}`,
      commandOutputOf(error),
    );
  }
  return true;
}
