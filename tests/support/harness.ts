// Test dependencies on the real servers: a fresh BullMQ prefix per call, so workers of one test
// file never take another's jobs, and the _test database.
import { randomUUID } from 'node:crypto';
import { createCoreDeps, type CoreDeps } from '../../src/main/core-deps.ts';
import { testConfig } from './test-config.ts';
import type { MachineVersion } from '../../machines/migrations/index.ts';

export function createTestDeps(overrides: Record<string, string> = {}, machine?: MachineVersion): CoreDeps {
  const prefix = `t-${randomUUID().slice(0, 8)}`;
  return createCoreDeps(testConfig({ QUEUE_PREFIX: prefix, ...overrides }), 'test', machine);
}

/** A message as a sender would build it, for calling a handler directly. */
export function messageFor(orderId: string, type: string, payload: Record<string, unknown> = {}) {
  return { messageId: `${orderId}.${type}`, orderId, correlationId: `test-${orderId}`, type, payload };
}

/** Polls probe every 100 ms until it returns a value; fails after timeoutMs. */
export async function until<T>(probe: () => Promise<T | undefined>, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
