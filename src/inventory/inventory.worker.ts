// The inventory module's handler for queue "inventory": reserve, commit, release. Each runs its
// effect, its inbox row and its answer in one transaction (handleOnce). The Redlock lease over the
// product ids only spares PostgreSQL a contention storm; the conditional decrement is the guard.
import { LockUnavailableError, type Lease, type Lock } from '../platform/lock.ts';
import type { Logger } from '../platform/logger.ts';
import type { HandleOnceDeps } from '../outbox/handle-once.ts';
import { handleOnce } from '../outbox/handle-once.ts';
import type { MessageHandler } from '../outbox/module-worker.ts';
import { PermanentError } from '../outbox/module-worker.ts';
import { answer, type Message, type OutgoingMessage } from '../../queues/message.ts';
import type { OrderItem } from '../../machines/order.types.ts';
import { commit, normalizeItems, release, reserve } from './inventory.sql.ts';

export interface InventoryDeps extends HandleOnceDeps {
  lock: Lock;
  lockTtlMs: number;
  logger: Logger;
  onLock?: (result: 'acquired' | 'unavailable') => void;
}

const consumer = 'inventory';

export function createInventoryHandler(deps: InventoryDeps): MessageHandler {
  return async (message) => {
    switch (message.type) {
      case 'inventory.reserve':
        return reserveStock(deps, message);
      case 'inventory.commit':
        await handleOnce(deps, consumer, message, async (client) => {
          const status = await commit(client, message.orderId);
          // A release that came first (a cancel while committing stock) wins: the late commit is a no-op.
          if (status === 'released') return [];
          if (status !== 'committed') throw new PermanentError(`commit of ${message.orderId} found group ${status}`);
          return [answer(message, 'orders', 'inventory.committed')];
        });
        return;
      case 'inventory.release':
        await handleOnce(deps, consumer, message, async (client) => {
          await release(client, message.orderId);
          return [answer(message, 'orders', 'inventory.released')];
        });
        return;
      default:
        throw new PermanentError(`inventory cannot handle ${message.type}`);
    }
  };
}

async function reserveStock(deps: InventoryDeps, message: Message): Promise<void> {
  const { items, ttl_ms: ttlMs } = message.payload as { items: OrderItem[]; ttl_ms: number };
  const productIds = normalizeItems(items).map((i) => `lock:product:${i.product_id}`);
  const lease = await acquireOrProceed(deps, productIds);
  try {
    await handleOnce(deps, consumer, message, async (client): Promise<OutgoingMessage[]> => {
      const result = await reserve(client, message.orderId, items, ttlMs);
      switch (result.kind) {
        case 'reserved':
          return [answer(message, 'orders', 'inventory.reserved', { expires_at: result.expiresAt })];
        case 'out_of_stock':
        case 'unknown_product':
          return [
            answer(message, 'orders', 'inventory.rejected', { reason: result.kind, product_id: result.productId }),
          ];
        case 'already':
          // A tombstone from an earlier release: the late reserve holds nothing and says so.
          return result.status === 'released'
            ? [answer(message, 'orders', 'inventory.rejected', { reason: 'reservation_released' })]
            : [];
      }
    });
  } finally {
    await lease.release();
  }
}

/**
 * The lease spares PostgreSQL a contention storm; it guards nothing. When it cannot be had (a
 * quorum of Redis nodes down, a long queue of buyers), the reservation goes ahead without it and
 * the row locks and conditional decrement serialize the buyers instead: slower, never wrong.
 */
async function acquireOrProceed(deps: InventoryDeps, resources: string[]): Promise<Lease> {
  try {
    const lease = await deps.lock.acquire(resources, deps.lockTtlMs);
    deps.onLock?.('acquired');
    return lease;
  } catch (error) {
    if (!(error instanceof LockUnavailableError)) throw error;
    deps.onLock?.('unavailable');
    deps.logger.warn({ resources, err: error }, 'lock unavailable; reserving under PostgreSQL row locks alone');
    return { release: async () => undefined };
  }
}
