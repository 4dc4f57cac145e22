// The one typed configuration of the engine, read from the environment and validated at start.
// A wrong or missing value stops start-up with one line that names the variable.
import { z } from 'zod';

const integer = (min: number, max: number) => z.coerce.number().int().min(min).max(max);
const boolean = z.enum(['true', 'false', '1', '0']).transform((v) => v === 'true' || v === '1');
const url = (protocols: string[]) =>
  z.string().refine(
    (value) => {
      try {
        return protocols.includes(new URL(value).protocol);
      } catch {
        return false;
      }
    },
    `must be a URL with protocol ${protocols.join(' or ')}`,
  );
const list = (item: z.ZodType<string, string>) =>
  z
    .string()
    .transform((v) =>
      v
        .split(',')
        .map((s) => s.trim())
        .filter((s) => s.length > 0),
    )
    .pipe(z.array(item).min(1));

/** Signs and verifies local tokens outside production; production must configure its own. */
export const developmentJwtSecret = 'development-only-secret-not-for-production-use';

/** Every setting: name, schema and default. `.env.example` documents each one. */
export const configSchema = z
  .object({
    NODE_ENV: z.enum(['development', 'test', 'production']).default('development'),
    LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),

    DATABASE_URL: url(['postgres:', 'postgresql:']).default('postgres://postgres@127.0.0.1:5432/order_engine'),
    PG_POOL_SIZE_MAX: integer(1, 200).default(20),
    PG_STATEMENT_TIMEOUT_MS: integer(100, 600_000).default(15_000),
    PG_TX_RETRY_ATTEMPTS_MAX: integer(1, 20).default(5),
    PG_TX_RETRY_BACKOFF_MS: integer(1, 10_000).default(20),

    REDIS_URL: url(['redis:']).default('redis://127.0.0.1:6379'),
    // Set: BullMQ (and the rate limits, the relay's heartbeat) run on this Redis Cluster instead of REDIS_URL.
    REDIS_CLUSTER_NODES: list(url(['redis:'])).optional(),
    REDLOCK_NODES: list(url(['redis:'])).default([
      'redis://127.0.0.1:6379',
      'redis://127.0.0.1:6380',
      'redis://127.0.0.1:6381',
    ]),
    REDLOCK_ENABLED: boolean.default(true),
    REDLOCK_TTL_MS: integer(100, 120_000).default(5_000),
    REDLOCK_RETRY_COUNT: integer(0, 100).default(20),
    REDLOCK_RETRY_DELAY_MS: integer(1, 5_000).default(50),
    REDLOCK_RETRY_JITTER_MS: integer(0, 5_000).default(50),

    KAFKA_BROKERS: list(z.string().regex(/^[^:\s]+:\d+$/, 'must be host:port')).default(['127.0.0.1:9092']),
    KAFKA_CLIENT_ID: z.string().min(1).default('order-engine'),
    KAFKA_TOPIC_ORDER_EVENTS: z.string().min(1).default('order-events'),
    KAFKA_REQUEST_TIMEOUT_MS: integer(100, 120_000).default(10_000),
    KAFKA_CONNECTION_TIMEOUT_MS: integer(100, 60_000).default(3_000),
    // The notifications consumer's group: a second engine on the same brokers (a benchmark, say) needs its own.
    KAFKA_NOTIFICATIONS_GROUP_ID: z.string().min(1).default('notifications'),

    AUTH_JWT_SECRET: z.string().min(32, 'must be at least 32 characters').default(developmentJwtSecret),
    AUTH_JWKS_URL: url(['https:', 'http:']).optional(),
    AUTH_JWT_ISSUER: z.string().min(1).default('order-engine'),
    AUTH_JWT_AUDIENCE: z.string().min(1).default('order-engine-api'),
    AUTH_JWT_ALGORITHMS: list(z.enum(['HS256', 'HS384', 'HS512', 'RS256', 'PS256', 'ES256', 'EdDSA'])).default([
      'HS256',
    ]),

    HTTP_PORT: integer(1, 65_535).default(8080),
    HTTP_HOST: z.string().min(1).default('127.0.0.1'),
    METRICS_PORT: integer(0, 65_535).default(0),
    ORDER_WAIT_SECONDS_MAX: integer(0, 30).default(30),
    ORDER_WAIT_BACKSTOP_MS: integer(50, 60_000).default(1_000),
    HTTP_TRUST_PROXY_HOPS: integer(0, 10).default(0),
    // At least 24 h in production (superRefine below); shorter only for tests of retention.
    IDEMPOTENCY_KEY_TTL_MS: integer(1_000, 90 * 86_400_000).default(86_400_000),
    API_PAUSE_AFTER_ORDER_COMMIT_MS: integer(0, 60_000).default(0),

    RATE_LIMIT_WINDOW_MS: integer(1_000, 86_400_000).default(60_000),
    RATE_LIMIT_IP_MAX: integer(1, 10_000_000).default(60_000),
    RATE_LIMIT_ORDERS_MAX: integer(1, 10_000_000).default(600),
    RATE_LIMIT_API_MAX: integer(1, 10_000_000).default(3_000),
    RATE_LIMIT_REDIS_TIMEOUT_MS: integer(50, 60_000).default(1_000),

    QUEUE_PREFIX: z
      .string()
      .regex(/^[a-z0-9-]{1,40}$/, 'must be lowercase letters, digits or -')
      .default('oe'),
    QUEUE_ATTEMPTS: integer(1, 100).default(8),
    QUEUE_BACKOFF_MS: integer(1, 600_000).default(200),
    QUEUE_LOCK_DURATION_MS: integer(1_000, 600_000).default(30_000),
    QUEUE_STALLED_INTERVAL_MS: integer(1_000, 600_000).default(15_000),
    QUEUE_MAX_STALLED_COUNT: integer(0, 100).default(3),
    QUEUE_REMOVE_ON_COMPLETE_COUNT: integer(0, 1_000_000).default(0),
    QUEUE_EVENTS_MAX_LEN: integer(10, 1_000_000).default(1_000),
    QUEUE_REMOVE_ON_FAIL_COUNT: integer(0, 1_000_000).default(100_000),
    WORKER_CONCURRENCY: integer(1, 1_000).default(32),
    BATCH_SIZE_MAX: integer(1, 1_000).default(32),
    BATCHES_IN_FLIGHT_MAX: integer(1, 64).default(2),
    BATCH_LINGER_MS: integer(0, 1_000).default(0),

    RESERVATION_TTL_MS: integer(1_000, 86_400_000).default(15 * 60_000),
    PAYMENT_DEADLINE_MS: integer(1_000, 3_600_000).default(120_000),

    OUTBOX_SWEEP_INTERVAL_MS: integer(50, 600_000).default(1_000),
    OUTBOX_SWEEP_AGE_MS: integer(0, 600_000).default(2_000),
    OUTBOX_BATCH_SIZE_MAX: integer(1, 10_000).default(500),
    OUTBOX_REDELIVER_AFTER_MS: integer(1_000, 86_400_000).default(60_000),

    RELAY_PARTITIONS: integer(1, 64).default(4),
    RELAY_BATCH_SIZE_MAX: integer(1, 10_000).default(500),
    RELAY_POLL_INTERVAL_MS: integer(10, 60_000).default(1_000),
    RELAY_WAKE_INTERVAL_MS: integer(0, 10_000).default(100),
    RELAY_BACKOFF_MS_MIN: integer(10, 60_000).default(200),
    RELAY_BACKOFF_MS_MAX: integer(100, 600_000).default(10_000),
    RELAY_PUBLISH_ATTEMPTS_MAX: integer(1, 100).default(5),
    RELAY_PAUSE_AFTER_PUBLISH_MS: integer(0, 60_000).default(0),

    // --- retention: one scheduled job on queue outbox-relay prunes each table (migration 013) ---
    OUTBOX_RETENTION_MS: integer(0, 365 * 86_400_000).default(7 * 86_400_000),
    INBOX_RETENTION_MS: integer(0, 365 * 86_400_000).default(8 * 86_400_000),
    NOTIFICATION_INBOX_RETENTION_MS: integer(0, 365 * 86_400_000).default(15 * 86_400_000),
    PRUNE_INTERVAL_MS: integer(1_000, 86_400_000).default(60_000),
    PRUNE_BATCH_MAX: integer(1, 100_000).default(5_000),
    PRUNE_RUN_ROWS_MAX: integer(1, 10_000_000).default(100_000),

    // --- operator surfaces (admin session, visualizer, periodic invariant check) ---
    ADMIN_SESSION_TTL_S: integer(60, 7 * 86_400).default(8 * 3_600),
    ADMIN_STUCK_AFTER_MS: integer(1_000, 7 * 86_400_000).default(5 * 60_000),
    INVARIANT_CHECK_INTERVAL_MS: integer(1_000, 3_600_000).default(15_000),

    PAYMENT_SIM_SEED: integer(0, 2 ** 31 - 1).default(42),
    PAYMENT_SIM_LATENCY_MS_MIN: integer(0, 60_000).default(5),
    PAYMENT_SIM_LATENCY_MS_MAX: integer(0, 60_000).default(20),
    PAYMENT_SIM_TRANSIENT_RATE: z.coerce.number().min(0).max(1).default(0),
    PAYMENT_SIM_DECLINE_RATE: z.coerce.number().min(0).max(1).default(0),
    PAYMENT_SIM_LOST_RESPONSE_RATE: z.coerce.number().min(0).max(1).default(0),
    PAYMENT_SIM_REFUSE_REFUNDS_PREFIX: z.string().max(64).default(''),
  })
  .superRefine((config, context) => {
    for (const issue of windowProblems(config)) context.addIssue({ code: 'custom', ...issue });
    if (
      config.NODE_ENV === 'production' &&
      config.AUTH_JWKS_URL === undefined &&
      config.AUTH_JWT_SECRET === developmentJwtSecret
    ) {
      context.addIssue({
        code: 'custom',
        path: ['AUTH_JWT_SECRET'],
        message: 'production needs its own secret (or AUTH_JWKS_URL); the development default is public',
      });
    }
  });

export type Config = z.infer<typeof configSchema>;

/**
 * The retention windows checked against the windows they depend on (migration 013 states why):
 * an inbox row must outlive the outbox row that could deliver its message again.
 */
function windowProblems(config: {
  NODE_ENV: string;
  OUTBOX_RETENTION_MS: number;
  INBOX_RETENTION_MS: number;
  IDEMPOTENCY_KEY_TTL_MS: number;
  PRUNE_BATCH_MAX: number;
  PRUNE_RUN_ROWS_MAX: number;
}): Array<{ path: [string]; message: string }> {
  const problems: Array<{ path: [string]; message: string }> = [];
  if (config.INBOX_RETENTION_MS < config.OUTBOX_RETENTION_MS) {
    problems.push({
      path: ['INBOX_RETENTION_MS'],
      message: `must be at least OUTBOX_RETENTION_MS (${config.OUTBOX_RETENTION_MS}): the sweeper can deliver a message again while its outbox row exists`,
    });
  }
  if (config.NODE_ENV === 'production' && config.IDEMPOTENCY_KEY_TTL_MS < 86_400_000) {
    problems.push({ path: ['IDEMPOTENCY_KEY_TTL_MS'], message: 'production keeps keys at least 24 h (86400000)' });
  }
  if (config.PRUNE_RUN_ROWS_MAX < config.PRUNE_BATCH_MAX) {
    problems.push({
      path: ['PRUNE_RUN_ROWS_MAX'],
      message: `must be at least PRUNE_BATCH_MAX (${config.PRUNE_BATCH_MAX})`,
    });
  }
  return problems;
}

/** Settings that were renamed: a value under the old name would be ignored, so it stops start-up. */
const renamedSettings: Record<string, string> = {
  OUTBOX_PRUNE_INTERVAL_MS: 'PRUNE_INTERVAL_MS',
  OUTBOX_PRUNE_BATCH_MAX: 'PRUNE_BATCH_MAX',
};

export class ConfigError extends Error {
  override name = 'ConfigError';
}

/** Parses the environment. Throws a ConfigError whose message is one line naming the variable. */
export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  const present = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
  const renamed = Object.keys(present)
    .filter((name) => renamedSettings[name] !== undefined)
    .map((name) => `${name}=${JSON.stringify(env[name])}: renamed ${renamedSettings[name]}`);
  const result = configSchema.safeParse(present);
  if (result.success && renamed.length === 0) return result.data;
  const problems = (result.error?.issues ?? []).map((issue) => {
    const name = String(issue.path[0] ?? '?');
    return `${name}=${JSON.stringify(env[name] ?? '')}: ${issue.message}`;
  });
  throw new ConfigError(`invalid configuration: ${[...renamed, ...problems].join('; ')}`);
}

/** For entry points: a config error prints one line and exits non-zero. */
export function loadConfigOrExit(env: Record<string, string | undefined> = process.env): Config {
  try {
    return loadConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`${error.message}\n`);
      process.exit(78);
    }
    throw error;
  }
}
