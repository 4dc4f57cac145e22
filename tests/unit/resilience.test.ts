// Pure parts of the resilience work: which errors count as a lost PostgreSQL connection, the outage
// log's once-per-outage rule, and the supervisor's restart backoff.
import { describe, expect, it } from 'vitest';
import { CommitOutcomeUnknownError, isConnectionError, isRetryable } from '../../src/platform/db.ts';
import { createOutageLog } from '../../src/platform/outage.ts';
import { isRedisConnectionError } from '../../src/platform/redis.ts';
import { defaultRestartPolicy, nextBackoffMs } from '../../src/main/supervisor.ts';

const pgError = (code: string, message = 'x') => Object.assign(new Error(message), { code });

describe('isConnectionError', () => {
  it.each([
    ['admin_shutdown (pg_terminate_backend)', pgError('57P01'), true],
    ['crash_shutdown', pgError('57P02'), true],
    ['cannot_connect_now (server starting)', pgError('57P03'), true],
    ['class 08 connection_failure', pgError('08006'), true],
    ['a refused socket', pgError('ECONNREFUSED'), true],
    ['a reset socket', pgError('ECONNRESET'), true],
    ['node-postgres, no code', new Error('Connection terminated unexpectedly'), true],
    ['a client broken earlier', new Error('Client has encountered a connection error and is not queryable'), true],
    ['wrapped in a cause', new Error('migration failed', { cause: pgError('57P01') }), true],
    ['serialization failure', pgError('40001'), false],
    ['unique violation', pgError('23505'), false],
    ['statement timeout', pgError('57014'), false],
    ['not an error', 'ECONNRESET', false],
  ])('%s', (_name, error, expected) => {
    expect(isConnectionError(error)).toBe(expected);
  });

  it('a lost COMMIT is neither a retryable conflict nor silently a connection error to retry', () => {
    const error = new CommitOutcomeUnknownError(pgError('57P01'));
    expect(isRetryable(error)).toBe(false);
    expect(error.message).toContain('outcome is unknown');
  });
});

describe('isRedisConnectionError', () => {
  it.each([
    [pgError('ECONNREFUSED'), true],
    [new Error('Connection is closed.'), true],
    [new Error('ERR wrong number of arguments'), false],
  ])('%s', (error, expected) => {
    expect(isRedisConnectionError(error)).toBe(expected);
  });
});

describe('the outage log', () => {
  function recordingLogger() {
    const lines: Array<{ fields: Record<string, unknown>; message: string }> = [];
    const log = (fields: Record<string, unknown>, message: string) => lines.push({ fields, message });
    return { lines, logger: { warn: log, info: log } as never };
  }

  it('logs an outage once when it starts and once, with its duration, when it ends', () => {
    const { lines, logger } = recordingLogger();
    const outages = createOutageLog(logger);
    outages.up('postgres');
    for (let attempt = 0; attempt < 50; attempt++) outages.down('postgres', pgError('ECONNREFUSED'));
    expect(outages.states()).toEqual({ postgres: 'down' });
    expect(outages.current()).toMatchObject([{ dependency: 'postgres', failures: 50 }]);
    outages.up('postgres');
    outages.up('postgres');
    expect(outages.states()).toEqual({ postgres: 'ok' });
    expect(lines.map((l) => l.message)).toEqual([
      'postgres unreachable; waiting for it',
      expect.stringMatching(/^postgres reachable again after \d+\.\d s$/),
    ]);
    expect(lines[1]?.fields).toMatchObject({ dependency: 'postgres', failures: 50 });
  });

  it('keeps dependencies apart', () => {
    const outages = createOutageLog();
    outages.down('kafka', new Error('down'));
    outages.up('redis 127.0.0.1:6379');
    expect(outages.states()).toEqual({ kafka: 'down', 'redis 127.0.0.1:6379': 'ok' });
  });
});

describe('the supervisor backoff', () => {
  const policy = defaultRestartPolicy;
  it.each([
    ['first restart', 0, 10, policy.backoffMsMin],
    ['crash loop doubles', 1_000, 10, 2_000],
    ['crash loop is bounded', policy.backoffMsMax, 10, policy.backoffMsMax],
    ['a healthy run resets it', 16_000, policy.healthyAfterMs, policy.backoffMsMin],
  ])('%s', (_name, previous, ran, expected) => {
    expect(nextBackoffMs(policy, previous, ran)).toBe(expected);
  });
});
