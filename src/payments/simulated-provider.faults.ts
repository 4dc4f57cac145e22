// The simulated provider's faults, decided before any I/O: a pure function of (seed, call kind,
// idempotency key, call number for that key), so a failing chaos run replays with its seed.
//
// Test customers, like a real provider's test cards (the customer id starts with the trigger;
// a trigger replaces the seeded faults for that call, so tests stay exact at any rate):
//   test_decline...        every charge is declined (final: retries give the same answer).
//   test_transient_<N>...  the first N charge calls per key fail transiently, then it behaves.
//   test_lost_response...  the first charge call per key is recorded, but its answer is lost.
//   test_timeout...        every charge call fails transiently (the worker ends with payment_timeout).

export interface SimulatedFaultOptions {
  seed: number;
  latencyMsMin: number;
  latencyMsMax: number;
  /** Probability that a call fails before the provider records anything. */
  transientRate: number;
  /** Probability that a charge key is declined; fixed per key, so a retry gets the same answer. */
  declineRate: number;
  /** Probability that a charge or refund is recorded but its answer is lost. */
  lostResponseRate: number;
}

export type CallKind = 'charge' | 'refund' | 'status';

export interface CallPlan {
  latencyMs: number;
  /** Throw ProviderTransientError before recording anything. */
  transient: boolean;
  /** Decline the charge (only ever true for kind 'charge'). */
  decline: boolean;
  /** Record the effect, then throw ProviderLostResponseError (never for kind 'status'). */
  loseResponse: boolean;
}

export type TestTrigger =
  { kind: 'decline' } | { kind: 'transient'; failingCalls: number } | { kind: 'lost_response' } | { kind: 'timeout' };

export function testTriggerOf(customerId: string | null): TestTrigger | null {
  if (customerId === null) return null;
  if (customerId.startsWith('test_decline')) return { kind: 'decline' };
  if (customerId.startsWith('test_lost_response')) return { kind: 'lost_response' };
  if (customerId.startsWith('test_timeout')) return { kind: 'timeout' };
  const transient = /^test_transient_(\d{1,3})/.exec(customerId);
  if (transient !== null) return { kind: 'transient', failingCalls: Number(transient[1]) };
  return null;
}

/** FNV-1a over the parts, then murmur3's finalizer: a uniform number in [0, 1). */
export function seededUnit(seed: number, ...parts: Array<string | number>): number {
  let hash = 0x811c9dc5 ^ seed;
  const text = parts.join('\u0000');
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  hash ^= hash >>> 16;
  hash = Math.imul(hash, 0x85ebca6b);
  hash ^= hash >>> 13;
  hash = Math.imul(hash, 0xc2b2ae35);
  hash ^= hash >>> 16;
  return (hash >>> 0) / 2 ** 32;
}

/**
 * The plan for one call. callNumber counts this process's calls of this kind with this key,
 * from 1. Latency is seeded too, so a replay waits the same way.
 */
export function planCall(
  options: SimulatedFaultOptions,
  kind: CallKind,
  idempotencyKey: string,
  callNumber: number,
  customerId: string | null = null,
): CallPlan {
  const { seed } = options;
  const spread = Math.max(0, options.latencyMsMax - options.latencyMsMin);
  const latencyMs =
    options.latencyMsMin + Math.floor(seededUnit(seed, 'latency', kind, idempotencyKey, callNumber) * (spread + 1));
  const trigger = kind === 'charge' ? testTriggerOf(customerId) : null;
  if (trigger !== null) return { latencyMs, ...triggeredFaults(trigger, callNumber) };
  return {
    latencyMs,
    transient: seededUnit(seed, 'transient', kind, idempotencyKey, callNumber) < options.transientRate,
    decline: kind === 'charge' && seededUnit(seed, 'decline', idempotencyKey) < options.declineRate,
    loseResponse:
      kind !== 'status' && seededUnit(seed, 'lost', kind, idempotencyKey, callNumber) < options.lostResponseRate,
  };
}

function triggeredFaults(trigger: TestTrigger, callNumber: number): Omit<CallPlan, 'latencyMs'> {
  const none = { transient: false, decline: false, loseResponse: false };
  switch (trigger.kind) {
    case 'decline':
      return { ...none, decline: true };
    case 'transient':
      return { ...none, transient: callNumber <= trigger.failingCalls };
    case 'lost_response':
      return { ...none, loseResponse: callNumber === 1 };
    case 'timeout':
      return { ...none, transient: true };
  }
}

/**
 * Counts calls per (kind, key) in this process. Bounded: past keysMax keys the oldest is
 * forgotten, which only restarts that key's count (as a process restart would).
 */
export class CallCounter {
  private readonly counts = new Map<string, number>();

  constructor(private readonly keysMax = 100_000) {}

  next(kind: CallKind, idempotencyKey: string): number {
    const key = `${kind}\u0000${idempotencyKey}`;
    const count = (this.counts.get(key) ?? 0) + 1;
    this.counts.delete(key);
    this.counts.set(key, count);
    if (this.counts.size > this.keysMax) {
      const oldest = this.counts.keys().next();
      if (oldest.done !== true) this.counts.delete(oldest.value);
    }
    return count;
  }
}
