// The set-up and teardown the resilience tests share: a Kafka topic of the file's own, core deps that
// publish to it, the engine processes the test spawns and, for tests that inject faults into
// PostgreSQL, an admin connection. The teardown stops the processes before it closes the connections
// and deletes the topic they use, whatever the test's outcome.
import type pg from 'pg';
import { afterAll, beforeAll } from 'vitest';
import type { CoreDeps } from '../../src/main/core-deps.ts';
import { adminClient, stopAll, type EngineProcess } from './engine-processes.ts';
import { createTestDeps } from './harness.ts';
import { createTopic, deleteTopic } from './kafka-topic.ts';
import { testConfig } from './test-config.ts';

export interface ResilienceRig {
  readonly core: CoreDeps;
  readonly topic: string;
  /** Only with `admin: true`. */
  readonly admin: pg.Client;
  /** Every process the test spawns goes here, so that the teardown stops it. */
  readonly processes: EngineProcess[];
}

export interface ResilienceRigOptions {
  /** The topic's partitions; createTopic's default when absent. */
  partitions?: number;
  /** Configuration for the core deps beyond the topic (a Redis of the test's own, say). */
  overrides?: Record<string, string>;
  admin?: boolean;
  /** False: set nothing up, for a test that runs only when asked to. */
  enabled?: boolean;
}

/**
 * Registers the file's beforeAll and afterAll. A test's own beforeAll registered before this call runs
 * before the rig's set-up (a server the core deps point at); its own afterAll then runs after the teardown.
 * Read the fields inside tests and hooks only: they exist once the set-up has run.
 */
export function useResilienceRig(options: ResilienceRigOptions = {}): ResilienceRig {
  const processes: EngineProcess[] = [];
  let core: CoreDeps | undefined;
  let topic: string | undefined;
  let admin: pg.Client | undefined;
  beforeAll(async () => {
    if (options.enabled === false) return;
    topic = await createTopic(testConfig(), options.partitions);
    core = createTestDeps({ KAFKA_TOPIC_ORDER_EVENTS: topic, ...options.overrides });
    if (options.admin === true) admin = await adminClient();
  }, 60_000);
  afterAll(async () => {
    await stopAll(processes);
    await core?.close();
    await admin?.end();
    if (topic !== undefined) await deleteTopic(testConfig(), topic);
  });
  const setUp = <T>(value: T | undefined, name: string): T => {
    if (value === undefined) throw new Error(`useResilienceRig: ${name} read before its set-up ran (or not asked for)`);
    return value;
  };
  return {
    get core() {
      return setUp(core, 'core');
    },
    get topic() {
      return setUp(topic, 'topic');
    },
    get admin() {
      return setUp(admin, 'admin');
    },
    processes,
  };
}
