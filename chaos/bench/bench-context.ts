// What a run's phases share: the run's settings, its context (servers, counters, how the engine
// runs) and the result each phase reports.
import type { Redis } from 'ioredis';
import type { BytesPerOrder } from '../../src/retention/table-sizes.sql.ts';
import type { Percentiles } from './bench-support.ts';
import type { Monitor, StatsReader } from './counters.ts';
import type { EngineLayout } from './engine-processes.ts';
import type { Costs, Drained, Outcomes } from './measure.ts';

export interface BenchSettings {
  quick: boolean;
  /** The layouts this run measures, each alternated with the baseline. */
  engines: EngineLayout[];
  pairs: number;
  clients: number;
  products: number;
  hotProducts: number;
  warmupMs: number;
  /** A fresh engine's warm-up, before anything is measured. */
  engineWarmupMs: number;
  saturationMs: number;
  latencyMs: number;
  drainTimeoutMs: number;
  startTimeoutMs: number;
  hot: boolean;
  seed: number;
  /** BullMQ on the local Redis Cluster (REDIS_CLUSTER_NODES) instead of a private node. */
  redisCluster: boolean;
}

export interface BenchContext {
  settings: BenchSettings;
  runTag: string;
  topic: string;
  apiUrl: string;
  /** Each customer's own token, as the closed loop's clients order with them. */
  customerTokens: ReadonlyMap<string, string>;
  /** How the engine runs in this part of the run. */
  layout: EngineLayout;
  /** The first port of the per-role processes' metrics servers. */
  metricsPortBase: number;
  poolSizeMax: number;
  databaseUrl: string;
  engineEnv: Record<string, string>;
  monitor: Monitor;
  stats: StatsReader;
  redis: { client: Redis; pid: number };
  say: (line: string) => void;
}

export interface PhaseResult {
  name: string;
  system: 'engine' | 'baseline';
  /** The engine's layout; null for the baseline. */
  layout: EngineLayout | null;
  products: 'spread' | 'hot';
  redlock: boolean | null;
  load: { type: 'closed'; clients: number } | { type: 'open'; target_per_second: number; sent_per_second: number };
  placed: number;
  errors: number;
  error_samples: string[];
  /** Closed loop: orders that reached an outcome per second of the measured window. */
  orders_per_second: number | null;
  /** Client-side request time: POST /orders (open loop: the API's own answer), or the baseline transaction. */
  request_ms: Percentiles;
  outcomes: Outcomes | null;
  drained: Drained | null;
  costs: Costs | null;
  /** How many orders the costs cover, and over what. */
  costs_orders: number;
  costs_scope: string | null;
  /** Disk the covered orders added, before retention and kept after it (engine sessions only). */
  bytes_per_order?: BytesPerOrder;
}
