// Configuration: defaults that start the engine, and a wrong value that stops it with one line
// naming the variable, both from loadConfig and from a real entry point.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/platform/config.ts';

const repositoryRoot = fileURLToPath(new URL('../../', import.meta.url));

function configErrorOf(env: Record<string, string>): ConfigError {
  try {
    loadConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error(`loadConfig accepted ${JSON.stringify(env)}`);
}

describe('loadConfig: defaults and coercion', () => {
  it('starts from an empty environment with the documented defaults', () => {
    const config = loadConfig({});
    expect(config).toMatchObject({
      NODE_ENV: 'development',
      HTTP_PORT: 8080,
      REDLOCK_ENABLED: true,
      REDLOCK_NODES: ['redis://127.0.0.1:6379', 'redis://127.0.0.1:6380', 'redis://127.0.0.1:6381'],
      KAFKA_BROKERS: ['127.0.0.1:9092'],
      QUEUE_PREFIX: 'oe',
      RESERVATION_TTL_MS: 900_000,
      PAYMENT_DEADLINE_MS: 120_000,
      PAYMENT_SIM_DECLINE_RATE: 0,
    });
    // BullMQ on REDIS_URL's node unless a cluster is named.
    expect(config.REDIS_CLUSTER_NODES).toBeUndefined();
  });

  it('treats an empty value as unset', () => {
    expect(loadConfig({ HTTP_PORT: '', REDLOCK_ENABLED: '' })).toMatchObject({
      HTTP_PORT: 8080,
      REDLOCK_ENABLED: true,
    });
  });

  it.each<[Record<string, string>, Record<string, unknown>]>([
    [{ HTTP_PORT: '9090' }, { HTTP_PORT: 9090 }],
    [{ REDLOCK_ENABLED: '0' }, { REDLOCK_ENABLED: false }],
    [{ REDLOCK_ENABLED: 'true' }, { REDLOCK_ENABLED: true }],
    [{ REDLOCK_NODES: 'redis://a:1, redis://b:2,' }, { REDLOCK_NODES: ['redis://a:1', 'redis://b:2'] }],
    [{ KAFKA_BROKERS: 'k1:9092,k2:9093' }, { KAFKA_BROKERS: ['k1:9092', 'k2:9093'] }],
    [
      { REDIS_CLUSTER_NODES: 'redis://127.0.0.1:7300, redis://127.0.0.1:7301' },
      { REDIS_CLUSTER_NODES: ['redis://127.0.0.1:7300', 'redis://127.0.0.1:7301'] },
    ],
    [{ PAYMENT_SIM_DECLINE_RATE: '0.25' }, { PAYMENT_SIM_DECLINE_RATE: 0.25 }],
  ])('reads %j', (env, expected) => {
    expect(loadConfig(env)).toMatchObject(expected);
  });
});

describe('loadConfig: a malformed value is one line that names the variable', () => {
  it.each<[string, string]>([
    ['HTTP_PORT', 'abc'],
    ['HTTP_PORT', '70000'],
    ['HTTP_PORT', '1.5'],
    ['HTTP_PORT', '80\n81'],
    ['REDLOCK_NODES', 'http://x'],
    ['REDLOCK_NODES', ','],
    ['REDIS_CLUSTER_NODES', '127.0.0.1:7300'],
    ['REDIS_CLUSTER_NODES', 'redis://127.0.0.1:7300,http://127.0.0.1:7301'],
    ['REDLOCK_ENABLED', 'yes'],
    ['PAYMENT_SIM_DECLINE_RATE', '2'],
    ['PAYMENT_SIM_DECLINE_RATE', 'abc'],
    ['DATABASE_URL', 'mysql://db/orders'],
    ['KAFKA_BROKERS', 'localhost'],
    ['NODE_ENV', 'staging'],
    ['QUEUE_PREFIX', 'Bad_Prefix'],
    ['RESERVATION_TTL_MS', '10'],
  ])('%s=%j', (name, value) => {
    const error = configErrorOf({ [name]: value });
    expect(error.name).toBe('ConfigError');
    expect(error.message).not.toMatch(/[\r\n]/);
    expect(error.message).toMatch(new RegExp(`^invalid configuration: ${name}=`));
  });

  it('names every malformed variable, still on one line', () => {
    const error = configErrorOf({ HTTP_PORT: 'abc', PAYMENT_SIM_DECLINE_RATE: '2', REDLOCK_NODES: 'http://x' });
    expect(error.message).not.toMatch(/[\r\n]/);
    for (const name of ['HTTP_PORT', 'PAYMENT_SIM_DECLINE_RATE', 'REDLOCK_NODES'])
      expect(error.message).toContain(`${name}=`);
  });
});

describe('loadConfig: a retention window shorter than the window it depends on is refused', () => {
  const day = 86_400_000;
  it.each<[string, Record<string, string>, RegExp]>([
    ['INBOX_RETENTION_MS', { INBOX_RETENTION_MS: String(6 * day) }, /at least OUTBOX_RETENTION_MS \(604800000\)/],
    [
      'INBOX_RETENTION_MS',
      { OUTBOX_RETENTION_MS: '5000', INBOX_RETENTION_MS: '4999' },
      /at least OUTBOX_RETENTION_MS \(5000\)/,
    ],
    [
      'IDEMPOTENCY_KEY_TTL_MS',
      { NODE_ENV: 'production', AUTH_JWKS_URL: 'https://id.example/jwks', IDEMPOTENCY_KEY_TTL_MS: '3600000' },
      /24 h/,
    ],
    ['PRUNE_RUN_ROWS_MAX', { PRUNE_BATCH_MAX: '500', PRUNE_RUN_ROWS_MAX: '499' }, /at least PRUNE_BATCH_MAX/],
  ])('%s in %j', (name, env, reason) => {
    const error = configErrorOf(env);
    expect(error.message).not.toMatch(/[\r\n]/);
    expect(error.message).toMatch(new RegExp(`^invalid configuration: ${name}=`));
    expect(error.message).toMatch(reason);
  });

  it.each<Record<string, string>>([
    {},
    { OUTBOX_RETENTION_MS: '2000', INBOX_RETENTION_MS: '2000', IDEMPOTENCY_KEY_TTL_MS: '3000' },
    { NODE_ENV: 'production', AUTH_JWKS_URL: 'https://id.example/jwks', IDEMPOTENCY_KEY_TTL_MS: String(day) },
  ])('accepts %j', (env) => {
    expect(() => loadConfig(env)).not.toThrow();
  });

  it.each([
    ['OUTBOX_PRUNE_INTERVAL_MS', 'PRUNE_INTERVAL_MS'],
    ['OUTBOX_PRUNE_BATCH_MAX', 'PRUNE_BATCH_MAX'],
  ])('refuses the old name %s, naming the new one', (old, renamed) => {
    const error = configErrorOf({ [old]: '60000' });
    expect(error.message).toBe(`invalid configuration: ${old}="60000": renamed ${renamed}`);
  });
});

describe('an entry point with a malformed value', () => {
  it.each<[string, string]>([
    ['INBOX_RETENTION_MS', '1000'],
    ['HTTP_PORT', 'abc'],
    ['REDLOCK_NODES', 'http://x'],
    ['PAYMENT_SIM_DECLINE_RATE', '2'],
  ])('exits non-zero with one stderr line naming %s', (name, value) => {
    // DATABASE_URL points nowhere: had the config passed, migrate would fail to connect instead.
    const result = spawnSync(process.execPath, ['--import', 'tsx', 'src/main/migrate.main.ts'], {
      cwd: repositoryRoot,
      env: { ...process.env, DATABASE_URL: 'postgres://nobody@127.0.0.1:1/none', [name]: value },
      encoding: 'utf8',
      timeout: 30_000,
    });
    expect(result.error).toBeUndefined();
    expect(result.status).not.toBe(0);
    expect(result.status).toBe(78);
    const lines = result.stderr.split('\n').filter((l) => l.length > 0);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(new RegExp(`^invalid configuration: ${name}=`));
    expect(result.stdout).toBe('');
  });
});
