// The simulated provider's fault plan: pure, seeded, and exact for the test customers.
import { describe, expect, it } from 'vitest';
import {
  CallCounter,
  planCall,
  seededUnit,
  testTriggerOf,
  type SimulatedFaultOptions,
} from '../../src/payments/simulated-provider.faults.ts';

const quiet: SimulatedFaultOptions = {
  seed: 42,
  latencyMsMin: 0,
  latencyMsMax: 0,
  transientRate: 0,
  declineRate: 0,
  lostResponseRate: 0,
};
const keys = Array.from({ length: 2_000 }, (_, i) => `order-${i}.charge`);

describe('testTriggerOf', () => {
  it.each([
    ['test_decline', { kind: 'decline' }],
    ['test_decline_insufficient_funds', { kind: 'decline' }],
    ['test_transient_2', { kind: 'transient', failingCalls: 2 }],
    ['test_transient_10_bob', { kind: 'transient', failingCalls: 10 }],
    ['test_lost_response', { kind: 'lost_response' }],
    ['test_timeout', { kind: 'timeout' }],
    ['test_transient_', null],
    ['alice', null],
    ['decline_test', null],
    [null, null],
  ] as const)('%s -> %j', (customerId, expected) => {
    expect(testTriggerOf(customerId)).toEqual(expected);
  });
});

describe('planCall for test customers', () => {
  const plan = (customerId: string, callNumber: number, kind: 'charge' | 'refund' = 'charge') =>
    planCall({ ...quiet, transientRate: 1, lostResponseRate: 1, declineRate: 1 }, kind, 'k', callNumber, customerId);

  it.each([
    ['test_decline', 1, { transient: false, decline: true, loseResponse: false }],
    ['test_decline', 5, { transient: false, decline: true, loseResponse: false }],
    ['test_transient_2', 1, { transient: true, decline: false, loseResponse: false }],
    ['test_transient_2', 2, { transient: true, decline: false, loseResponse: false }],
    ['test_transient_2', 3, { transient: false, decline: false, loseResponse: false }],
    ['test_lost_response', 1, { transient: false, decline: false, loseResponse: true }],
    ['test_lost_response', 2, { transient: false, decline: false, loseResponse: false }],
    ['test_timeout', 1, { transient: true, decline: false, loseResponse: false }],
    ['test_timeout', 99, { transient: true, decline: false, loseResponse: false }],
  ] as const)('%s, call %i', (customerId, callNumber, expected) => {
    // The trigger replaces the seeded faults, whose rates here are all 1.
    expect(plan(customerId, callNumber)).toMatchObject(expected);
  });

  it('applies triggers to charges only (a refund carries no customer)', () => {
    expect(plan('test_decline', 1, 'refund')).toMatchObject({ decline: false, transient: true });
  });
});

describe('seeded faults', () => {
  it('is a pure function of seed and parts', () => {
    expect(seededUnit(1, 'a', 2)).toBe(seededUnit(1, 'a', 2));
    expect(seededUnit(1, 'a', 2)).not.toBe(seededUnit(2, 'a', 2));
    expect(seededUnit(1, 'a', 2)).not.toBe(seededUnit(1, 'a', 3));
    for (const key of keys) {
      const u = seededUnit(7, key);
      expect(u).toBeGreaterThanOrEqual(0);
      expect(u).toBeLessThan(1);
    }
  });

  it('declines per key: every call number of a key gets the same answer', () => {
    const options = { ...quiet, declineRate: 0.3 };
    for (const key of keys.slice(0, 200)) {
      const first = planCall(options, 'charge', key, 1).decline;
      for (const call of [2, 3, 8]) expect(planCall(options, 'charge', key, call).decline).toBe(first);
    }
  });

  it.each([
    ['declineRate', 'decline', 0.2],
    ['transientRate', 'transient', 0.3],
    ['lostResponseRate', 'loseResponse', 0.1],
  ] as const)('%s makes about that share of calls fail', (rate, field, value) => {
    const options = { ...quiet, [rate]: value };
    const share = keys.filter((key) => planCall(options, 'charge', key, 1)[field]).length / keys.length;
    expect(share).toBeGreaterThan(value - 0.05);
    expect(share).toBeLessThan(value + 0.05);
  });

  it('never declines a refund or loses the answer of a status call', () => {
    const options = { ...quiet, declineRate: 1, lostResponseRate: 1 };
    expect(planCall(options, 'refund', 'k', 1)).toMatchObject({ decline: false, loseResponse: true });
    expect(planCall(options, 'status', 'k', 1)).toMatchObject({ decline: false, loseResponse: false });
  });

  it('keeps latency within [min, max] and replays it with the seed', () => {
    const options = { ...quiet, latencyMsMin: 5, latencyMsMax: 9 };
    const latencies = keys.map((key) => planCall(options, 'charge', key, 1).latencyMs);
    expect(Math.min(...latencies)).toBe(5);
    expect(Math.max(...latencies)).toBe(9);
    expect(keys.map((key) => planCall(options, 'charge', key, 1).latencyMs)).toEqual(latencies);
  });
});

describe('CallCounter', () => {
  it('counts per kind and key from 1', () => {
    const counter = new CallCounter();
    expect([counter.next('charge', 'a'), counter.next('charge', 'a'), counter.next('refund', 'a')]).toEqual([1, 2, 1]);
  });

  it('forgets the least recently used key past its bound', () => {
    const counter = new CallCounter(2);
    counter.next('charge', 'a');
    counter.next('charge', 'b');
    counter.next('charge', 'a');
    counter.next('charge', 'c'); // b is the oldest now
    expect(counter.next('charge', 'a')).toBe(3);
    expect(counter.next('charge', 'b')).toBe(1);
  });
});
