// A small Lock interface, with Redlock over independent Redis nodes behind it. The redlock
// package (5.0.0-beta) has had no stable release since 2020, so only acquire/release is used
// and the rest of the engine sees this interface alone. A lock is a performance aid: it
// serializes buyers so PostgreSQL sees no contention storm. PostgreSQL stays the guard.
// @ts-expect-error redlock 5's exports map names no types; they are imported from its dist below.
import RedlockRuntime from 'redlock';
import type RedlockClass from '../../node_modules/redlock/dist/index.js';
import type { Lock as RedlockLease } from '../../node_modules/redlock/dist/index.js';
import type { Redis } from 'ioredis';

// Under Node's ESM loader the default export is the class; a CJS interop layer may wrap it.
const Redlock = ((RedlockRuntime as { default?: typeof RedlockClass }).default ??
  RedlockRuntime) as typeof RedlockClass;

export interface Lease {
  release(): Promise<void>;
}

export interface Lock {
  /** Acquires one lease over every resource, or throws LockUnavailableError. */
  acquire(resources: string[], ttlMs: number): Promise<Lease>;
  close(): Promise<void>;
}

/** Why a lease was not had: other holders kept it past every retry, or too few nodes answered. */
export type LockUnavailableReason = 'contended' | 'failed';

export class LockUnavailableError extends Error {
  override name = 'LockUnavailableError';
  constructor(
    message: string,
    readonly reason: LockUnavailableReason,
  ) {
    super(message);
  }
}

/**
 * Contended when, at the first attempt, a node refused because another lease holds a resource;
 * failed otherwise (nodes did not answer). Only the first attempt tells: a failed attempt can leave
 * its own key on the nodes that voted for it, which later attempts see as a rival.
 */
async function reasonOf(error: unknown): Promise<LockUnavailableReason> {
  const first = (error as { attempts?: ReadonlyArray<Promise<{ votesAgainst: Map<unknown, Error> }>> }).attempts?.[0];
  const stats = await first?.catch(() => null);
  if (stats === undefined || stats === null) return 'failed';
  return [...stats.votesAgainst.values()].some((e) => e.name === 'ResourceLockedError') ? 'contended' : 'failed';
}

export interface RedlockOptions {
  retryCount: number;
  retryDelayMs: number;
  retryJitterMs: number;
}

export function createRedlock(clients: Redis[], options: RedlockOptions): Lock {
  const redlock = new Redlock(clients, {
    driftFactor: 0.01,
    retryCount: options.retryCount,
    retryDelay: options.retryDelayMs,
    retryJitter: options.retryJitterMs,
    automaticExtensionThreshold: 500,
  });
  // Without a listener, EventEmitter would throw on 'error' (a node down is reported here).
  redlock.on('error', () => undefined);
  return {
    async acquire(resources, ttlMs) {
      let lease: RedlockLease;
      try {
        lease = await redlock.acquire([...resources].sort(), ttlMs);
      } catch (error) {
        const reason = await reasonOf(error);
        throw new LockUnavailableError(
          `lock not acquired (${reason}) on ${resources.join(',')}: ${String(error)}`,
          reason,
        );
      }
      return {
        // A failed release is harmless: the lease expires after ttlMs.
        release: async () => {
          await lease.release().catch(() => undefined);
        },
      };
    },
    async close() {
      await Promise.all(clients.map((c) => c.quit().catch(() => c.disconnect())));
    },
  };
}

/** The switch that turns Redlock off: every acquire succeeds at once. */
export function createNoLock(): Lock {
  return {
    acquire: async () => ({ release: async () => undefined }),
    close: async () => undefined,
  };
}
