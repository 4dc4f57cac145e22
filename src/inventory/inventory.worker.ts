// The inventory module's runtime for queue "inventory": reserve, commit, release. A batch of
// messages runs its effects, inbox rows and answers in one transaction (handleBatch). The Redlock
// lease over the batch's product ids only spares PostgreSQL a contention storm; the conditional
// decrement is the guard.
import { LockUnavailableError, type Lease, type Lock, type LockUnavailableReason } from '../platform/lock.ts';
import type { Client } from '../platform/db.ts';
import type { Logger } from '../platform/logger.ts';
import {
  handleBatch,
  type BatchEffect,
  type HandleOnceDeps,
  type ModuleRuntime,
  type Work,
} from '../messaging/handle-once.ts';
import { PermanentError, handlerOf, type MessageHandler } from '../messaging/module-worker.ts';
import { answer, type Message, type OutgoingMessage } from '../../queues/message.ts';
import type { OrderItem } from '../../machines/order.types.ts';
import { commitAll, lockStockOf, release, reserve } from './inventory.sql.ts';

export interface InventoryDeps extends HandleOnceDeps {
  lock: Lock;
  lockTtlMs: number;
  logger: Logger;
  /** acquired; or not had (contended / failed) and the reservation went ahead under PostgreSQL alone. */
  onLock?: (result: 'acquired' | LockUnavailableReason) => void;
}

const consumer = 'inventory';

function itemsOf(message: Message): OrderItem[] {
  return (message.payload as { items: OrderItem[] }).items;
}

/** How long a product refused for want of stock is reserved without the lock: a hint, never a guard. */
const soldOutHintMs = 1_000;

export function createInventoryRuntime(deps: InventoryDeps): ModuleRuntime {
  // Products a reservation was refused for lately. Their buyers skip the Redis lock: the lock only
  // spares PostgreSQL a contention storm, and a refusal is decided by the row lock and the
  // conditional decrement all the same, so the thousandth buyer of a sold-out item is refused at
  // once instead of queueing for a lease. Stock that comes back is found by the database at once,
  // and the lock is taken again when the hint expires.
  const soldOut = new Map<string, number>();
  const markSoldOut = (productId: string) => soldOut.set(productId, Date.now() + soldOutHintMs);
  const isSoldOut = (productId: string) => (soldOut.get(productId) ?? 0) > Date.now();
  return {
    consumer,
    async prepare(message) {
      switch (message.type) {
        case 'inventory.reserve':
          return { message, effect: (client) => reserveStock(client, message, markSoldOut) };
        case 'inventory.commit': {
          const work: Work = { message, effect: (client) => commitStock.apply(client, [work]), batch: commitStock };
          return work;
        }
        case 'inventory.release':
          return { message, effect: (client) => releaseStock(client, message) };
        default:
          throw new PermanentError(`inventory cannot handle ${message.type}`);
      }
    },
    async commit(works) {
      const productIds = new Set(
        works
          .filter((w) => w.message.type === 'inventory.reserve')
          .flatMap((w) => itemsOf(w.message).map((i) => i.product_id)),
      );
      for (const [id, until] of soldOut) if (until <= Date.now()) soldOut.delete(id);
      const resources = [...productIds]
        .filter((id) => !isSoldOut(id))
        .sort()
        .map((id) => `lock:product:${id}`);
      const lease = resources.length > 0 ? await acquireOrProceed(deps, resources) : noLease;
      try {
        await handleBatch(deps, consumer, works, lockStockOnce);
      } finally {
        await lease.release();
      }
    },
  };
}

export function createInventoryHandler(deps: InventoryDeps): MessageHandler {
  return handlerOf(createInventoryRuntime(deps));
}

/**
 * A batch of several messages locks every stock row it will touch first, in product-id order:
 * otherwise two batches could take the same rows in opposite orders and deadlock. One message
 * alone takes its rows in order by itself.
 */
async function lockStockOnce(client: Client, claimed: Work[]): Promise<void> {
  if (claimed.length < 2) return;
  const reserving = claimed.filter((w) => w.message.type === 'inventory.reserve');
  const settling = claimed.filter((w) => w.message.type !== 'inventory.reserve');
  await lockStockOf(
    client,
    reserving.flatMap((w) => itemsOf(w.message).map((i) => i.product_id)),
    settling.map((w) => w.message.orderId),
  );
}

async function reserveStock(
  client: Client,
  message: Message,
  onSoldOut: (productId: string) => void,
): Promise<OutgoingMessage[]> {
  const { items, ttl_ms: ttlMs } = message.payload as { items: OrderItem[]; ttl_ms: number };
  const result = await reserve(client, message.orderId, items, ttlMs);
  switch (result.kind) {
    case 'reserved':
      return [answer(message, 'orders', 'inventory.reserved', { expires_at: result.expiresAt })];
    case 'out_of_stock':
      onSoldOut(result.productId);
      return [answer(message, 'orders', 'inventory.rejected', { reason: result.kind, product_id: result.productId })];
    case 'unknown_product':
      return [answer(message, 'orders', 'inventory.rejected', { reason: result.kind, product_id: result.productId })];
    case 'already':
      // A tombstone from an earlier release: the late reserve holds nothing and says so.
      return result.status === 'released'
        ? [answer(message, 'orders', 'inventory.rejected', { reason: 'reservation_released' })]
        : [];
  }
}

/**
 * The commits of a batch in one statement. A release that came first (a cancel while committing
 * stock) wins: the late commit is a no-op and answers nothing.
 */
const commitStock: BatchEffect = {
  name: 'inventory.commit',
  async apply(client, works) {
    const statuses = await commitAll(
      client,
      works.map((w) => w.message.orderId),
    );
    return works.flatMap(({ message }) => {
      const status = statuses.get(message.orderId) ?? null;
      if (status === 'released') return [];
      if (status !== 'committed') throw new PermanentError(`commit of ${message.orderId} found group ${status}`);
      return [answer(message, 'orders', 'inventory.committed')];
    });
  },
};

async function releaseStock(client: Client, message: Message): Promise<OutgoingMessage[]> {
  await release(client, message.orderId);
  return [answer(message, 'orders', 'inventory.released')];
}

const noLease: Lease = { release: async () => undefined };

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
    deps.onLock?.(error.reason);
    deps.logger.warn({ resources, err: error }, 'lock unavailable; reserving under PostgreSQL row locks alone');
    return noLease;
  }
}
