// The benchmark's own arithmetic: percentiles, the product mix of the hot mode, CPU from /proc,
// and the PostgreSQL counter deltas with the bench's own queries taken out. (Speed itself is never
// asserted in a test: it lives in `npm run bench`.)
import { describe, expect, it } from 'vitest';
import { percentile, percentilesOf, seededRandom } from '../../chaos/bench/bench-support.ts';
import { databaseDelta, type DatabaseCounters } from '../../chaos/bench/counters.ts';
import { CpuMeter, cpuTicksOf, machineBusyTicks } from '../../chaos/bench/cpu.ts';
import { hotPicker, orderShape, spreadPicker } from '../../chaos/bench/load.ts';

describe('percentiles', () => {
  it.each([
    { values: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10], p: 50, expected: 5 },
    { values: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10], p: 99, expected: 10 },
    { values: [7], p: 50, expected: 7 },
    { values: [7], p: 0, expected: 7 },
  ])('p$p of $values is $expected', ({ values, p, expected }) => {
    expect(percentile(values, p)).toBe(expected);
  });

  it('is NaN for no values, never a made-up zero', () => {
    expect(percentile([], 50)).toBeNaN();
    expect(percentilesOf([]).count).toBe(0);
  });

  it('sorts before it reads', () => {
    expect(percentilesOf([30, 10, 20])).toMatchObject({ count: 3, p50: 20, p99: 30, max: 30 });
  });
});

describe('product mix', () => {
  const products = Array.from({ length: 50 }, (_, i) => `p-${i}`);

  it('hot mode puts about 90% of orders on the first 10 products, and replays with its seed', () => {
    const pick = hotPicker(products, 10, 7);
    const picks = Array.from({ length: 10_000 }, (_, n) => pick(n));
    const hot = picks.filter((id) => Number(id.slice(2)) < 10).length / picks.length;
    expect(hot).toBeGreaterThan(0.88);
    expect(hot).toBeLessThan(0.92);
    const again = hotPicker(products, 10, 7);
    expect(Array.from({ length: 100 }, (_, n) => again(n))).toEqual(picks.slice(0, 100));
  });

  it('spread mode visits every product in turn', () => {
    const pick = spreadPicker(products);
    expect(new Set(Array.from({ length: 50 }, (_, n) => pick(n))).size).toBe(50);
  });

  it('orders one unit for each customer in turn (as many customers as clients, each with a token)', () => {
    expect(orderShape(1_234, spreadPicker(products))).toEqual({ userId: 'bench-c34', productId: 'p-34', quantity: 1 });
    expect(orderShape(1_234, spreadPicker(products), 1_000)).toMatchObject({ userId: 'bench-c234' });
  });

  it('seeded random stays in [0, 1)', () => {
    const random = seededRandom(1);
    for (let i = 0; i < 1_000; i++) expect(random()).toBeGreaterThanOrEqual(0);
    expect(Math.max(...Array.from({ length: 1_000 }, random))).toBeLessThan(1);
  });
});

describe('CPU from /proc', () => {
  it('reads this process, and nothing for a pid that does not exist', () => {
    expect(cpuTicksOf(process.pid)).toBeGreaterThanOrEqual(0);
    expect(cpuTicksOf(2 ** 30)).toBeNull();
    expect(machineBusyTicks()).toBeGreaterThan(0);
  });

  it('counts CPU spent after start(), per group', () => {
    const meter = new CpuMeter();
    meter.track('self', [process.pid]);
    meter.start();
    const until = Date.now() + 60;
    while (Date.now() < until) Math.sqrt(Math.random());
    meter.sample();
    const { groups } = meter.seconds();
    expect(groups.self).toBeGreaterThanOrEqual(0);
    expect(groups.self).toBeLessThan(5);
  });
});

describe('PostgreSQL counter deltas', () => {
  const counters = (commits: number, statements: [string, number][] | null): DatabaseCounters => ({
    xact_commit: commits,
    xact_rollback: 2,
    tup_inserted: 10,
    tup_updated: 5,
    tup_deleted: 0,
    statements: statements === null ? null : new Map(statements.map(([q, calls]) => [q, { calls, totalMs: calls }])),
  });

  it("takes out the bench's own queries, one autocommit transaction each", () => {
    const delta = databaseDelta(counters(100, null), counters(150, null), 8);
    expect(delta).toMatchObject({ commits: 42, rollbacks: 0, transactions: 42, statements: null });
  });

  it('counts statements only when pg_stat_statements answered', () => {
    const before = counters(0, [['SELECT 1', 5]]);
    const after = counters(10, [
      ['SELECT 1', 9],
      ['INSERT', 20],
    ]);
    const delta = databaseDelta(before, after, 2);
    expect(delta.statements).toBe(22);
    expect(delta.top_statements?.[0]).toMatchObject({ query: 'INSERT', calls: 20 });
  });
});
