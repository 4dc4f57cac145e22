// How long Kafka can bring an order event again, from the topic's settings, and when that forbids
// pruning notification_inbox.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { notificationWindowProblem, topicWindowOf, type TopicWindow } from '../../src/retention/topic-window.ts';

describe('topicWindowOf', () => {
  it.each<[string | undefined, string | undefined, string | undefined, TopicWindow]>([
    ['604800000', '604800000', 'delete', { redeliverableMs: 1_209_600_000 }],
    ['2000', '1000', 'delete', { redeliverableMs: 3_000 }],
    ['-1', '1000', 'delete', { redeliverableMs: null, reason: 'the topic keeps records for ever (retention.ms=-1)' }],
    ['2000', '1000', 'compact', { redeliverableMs: null, reason: 'the topic is compacted' }],
    ['2000', '1000', 'delete,compact', { redeliverableMs: null, reason: 'the topic is compacted' }],
  ])('retention.ms=%s segment.ms=%s cleanup.policy=%s', (retention, segment, policy, expected) => {
    expect(topicWindowOf(retention, segment, policy)).toEqual(expected);
  });

  it.each([
    [undefined, '1000'],
    ['soon', '1000'],
    ['1000', undefined],
  ])('refuses retention.ms=%s segment.ms=%s it cannot read', (retention, segment) => {
    expect(() => topicWindowOf(retention, segment, 'delete')).toThrow(/unreadable topic settings/);
  });
});

describe('notificationWindowProblem', () => {
  it('allows a setting at least the window', () => {
    expect(notificationWindowProblem(3_000, 'order-events', { redeliverableMs: 3_000 })).toBeNull();
    expect(notificationWindowProblem(4_000, 'order-events', { redeliverableMs: 3_000 })).toBeNull();
  });

  it('refuses a shorter setting, naming it, on one line', () => {
    const problem = notificationWindowProblem(2_999, 'order-events', { redeliverableMs: 3_000 });
    expect(problem).toBe(
      "notification_inbox is not pruned: NOTIFICATION_INBOX_RETENTION_MS=2999 is shorter than topic order-events's retention.ms + segment.ms (3000)",
    );
  });

  it('refuses any setting when the topic keeps records for ever', () => {
    const problem = notificationWindowProblem(10 ** 12, 'order-events', {
      redeliverableMs: null,
      reason: 'the topic is compacted',
    });
    expect(problem).toMatch(/not pruned: the topic is compacted/);
  });
});

describe("under Node's own ESM loader", () => {
  // vitest transforms kafkajs' CommonJS exports; tsx, which runs the relay, leaves Node to find them.
  it('loads the relay and its retention job', () => {
    const result = spawnSync(
      process.execPath,
      ['--import', 'tsx', '--input-type=module', '-e', "await import('./src/relay/relay.worker.ts')"],
      { cwd: fileURLToPath(new URL('../../', import.meta.url)), encoding: 'utf8', timeout: 30_000 },
    );
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
  });
});
