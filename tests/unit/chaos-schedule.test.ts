// The chaos runner's schedule is a pure function of its options and seed: a failing run replays.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { jobsThatLostTheirLock } from '../../chaos/runner/faults.ts';
import { mulberry32 } from '../../chaos/runner/prng.ts';
import { parseArgs, parseDurationMs, UsageError } from '../../chaos/runner/args.ts';
import { faultKinds, planSchedule, type ScheduleOptions } from '../../chaos/runner/schedule.ts';

const base: ScheduleOptions = {
  scenario: 'all',
  seed: 1234,
  durationMs: 120_000,
  rate: 5,
  lockDurationMs: 5_000,
  redlockTtlMs: 5_000,
  allKinds: [...faultKinds],
  buyers: 1_000,
};

describe('the chaos schedule', () => {
  it('is the same for the same seed', () => {
    const first = planSchedule(base);
    const second = planSchedule({ ...base });
    expect(second).toEqual(first);
    expect(first.faults.length).toBeGreaterThan(3);
    expect(first.orders).toHaveLength(600);
  });

  it('differs for another seed', () => {
    const other = planSchedule({ ...base, seed: 1235 });
    expect(other.faults).not.toEqual(planSchedule(base).faults);
    expect(other.orders).not.toEqual(planSchedule(base).orders);
  });

  it('never overlaps two faults and ends them within the duration', () => {
    for (const scenario of ['kill', 'pause', 'postgres', 'redis', 'kafka', 'all'] as const) {
      const { faults } = planSchedule({ ...base, scenario, durationMs: 60_000 });
      expect(faults.length, scenario).toBeGreaterThan(0);
      for (const [i, fault] of faults.entries()) {
        expect(fault.atMs + fault.holdMs).toBeLessThanOrEqual(60_000);
        if (i > 0) expect(fault.atMs).toBeGreaterThan(faults[i - 1]!.atMs + faults[i - 1]!.holdMs);
      }
    }
  });

  it('pauses longer than the lock, keeps Kafka down once for 20 s, and stops one then two Redlock nodes', () => {
    const pauses = planSchedule({ ...base, scenario: 'pause' }).faults;
    expect(pauses.every((f) => f.holdMs > base.lockDurationMs)).toBe(true);
    const kafka = planSchedule({ ...base, scenario: 'kafka' }).faults;
    expect(kafka).toEqual([expect.objectContaining({ kind: 'kafka', holdMs: 20_000 })]);
    const redis = planSchedule({ ...base, scenario: 'redis' }).faults;
    expect(redis.slice(0, 2).map((f) => f.targets.length)).toEqual([1, 2]);
    expect(redis.every((f) => f.holdMs > base.redlockTtlMs)).toBe(true);
  });

  it('sends every race buyer at once for the last unit', () => {
    const { orders, faults } = planSchedule({ ...base, scenario: 'race', buyers: 50 });
    expect(orders).toHaveLength(50);
    expect(orders.every((o) => o.atMs === 0 && o.quantity === 1 && o.cancelAfterMs === null)).toBe(true);
    expect(faults).toEqual([]);
  });

  it('has no load and no faults for ledger', () => {
    expect(planSchedule({ ...base, scenario: 'ledger' })).toMatchObject({ orders: [], faults: [] });
  });
});

describe('mulberry32', () => {
  it('replays the same numbers for a seed', () => {
    const a = mulberry32(42);
    const b = mulberry32(42);
    const drawn = Array.from({ length: 5 }, () => a.next());
    expect(Array.from({ length: 5 }, () => b.next())).toEqual(drawn);
    expect(drawn.every((x) => x >= 0 && x < 1)).toBe(true);
  });
});

describe('the chaos command line', () => {
  it('reads durations, seeds and options', () => {
    expect(parseDurationMs('60s')).toBe(60_000);
    expect(parseDurationMs('2m')).toBe(120_000);
    expect(parseDurationMs('1500ms')).toBe(1_500);
    const options = parseArgs(['race', '--seed', '9', '--buyers=200', '--redlock', 'off']);
    expect(options).toMatchObject({ scenario: 'race', seed: 9, buyers: 200, redlock: ['off'] });
  });

  it.each([[['nope']], [['kill', '--rate', '0']], [['kill', '--bogus', '1']], [['all', '--faults', 'kill,fire']]])(
    'refuses %j',
    (argv) => {
      expect(() => parseArgs(argv)).toThrow(UsageError);
    },
  );
});

describe('the pause fault note', () => {
  it('names each job whose lock lapsed, once, from the log after the pause began', () => {
    const dir = mkdtempSync(join(tmpdir(), 'chaos-log-'));
    const file = join(dir, 'payments.log');
    const before = '{"msg":"job failed","err":{"message":"Missing lock for job old.payment.charge. moveToFinished"}}\n';
    writeFileSync(
      file,
      before +
        '{"err":{"message":"could not renew lock for job 9d16.payment.charge"}}\n' +
        '{"err":{"message":"Missing lock for job 9d16.payment.charge. moveToFinished"}}\n' +
        '{"err":{"message":"Missing lock for job 6d1b.payment.refund. moveToDelayed"}}\n',
    );
    expect(jobsThatLostTheirLock(file, Buffer.byteLength(before))).toEqual([
      '9d16.payment.charge',
      '6d1b.payment.refund',
    ]);
    expect(jobsThatLostTheirLock(join(dir, 'missing.log'), 0)).toEqual([]);
  });
});
