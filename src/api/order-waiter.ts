// `Prefer: wait`, told rather than polled: the transaction that changes an order's status notifies
// 'order_status' with the order's changed columns at its commit (orders module), and every API
// process LISTENs once. A request watches its order before the write that starts it moving, merges
// what it is told into the row it already holds, and answers with that row: no re-read. A poll of
// every waiting order at once, every backstopMs, covers a lost connection or a missed notification.
import { orderChanges, type OrderChange } from '../orders/order.queries.ts';
import { orderStatusChannel, type OrderRow } from '../orders/order.sql.ts';
import type { Pool } from '../platform/db.ts';
import { listen } from '../platform/listen.ts';
import type { Logger } from '../platform/logger.ts';

export interface OrderWatch {
  /** Resolves with the order once `done` holds, or as last known when waitMs runs out. */
  until(order: OrderRow, waitMs: number, done: (order: OrderRow) => boolean): Promise<OrderRow>;
  /** Stops watching (a request that ended without waiting). */
  cancel(): void;
}

export interface OrderWaiter {
  /** Starts hearing of the order's changes: call before the write after which it may move. */
  watch(id: string): OrderWatch;
  close(): Promise<void>;
}

export interface OrderWaiterOptions {
  /** The database URL for the LISTEN connection; absent: the poll alone (tests). */
  listenUrl?: string;
  logger: Logger;
  backstopMs: number;
}

interface Waiting {
  order: OrderRow;
  done: (order: OrderRow) => boolean;
  resolve: (order: OrderRow) => void;
  timer: NodeJS.Timeout;
}

interface Watching {
  id: string;
  heard: OrderChange | null;
  waiting: Waiting | null;
}

const newer = (a: OrderChange | null, b: OrderChange): OrderChange => (a !== null && a.version >= b.version ? a : b);

function merged(order: OrderRow, change: OrderChange | null): OrderRow {
  return change === null || change.version <= order.version ? order : { ...order, ...change };
}

/** The requests watching orders and what each has heard. No I/O: the waiter feeds it. */
class Watches {
  private readonly byOrder = new Map<string, Set<Watching>>();

  ids(): string[] {
    return [...this.byOrder.keys()];
  }

  get size(): number {
    return this.byOrder.size;
  }

  /** A change the database told or the poll read: ends every wait it satisfies. */
  hear(change: OrderChange): void {
    for (const w of this.byOrder.get(change.id) ?? []) {
      w.heard = newer(w.heard, change);
      if (w.waiting === null) continue;
      const order = merged(w.waiting.order, w.heard);
      if (w.waiting.done(order)) this.finish(w, order);
    }
  }

  add(id: string, onWait: () => void): OrderWatch {
    const w: Watching = { id, heard: null, waiting: null };
    this.byOrder.set(id, (this.byOrder.get(id) ?? new Set()).add(w));
    return {
      until: (order, waitMs, done) => {
        const now = merged(order, w.heard);
        if (waitMs <= 0 || done(now)) {
          this.forget(w);
          return Promise.resolve(now);
        }
        onWait();
        return new Promise<OrderRow>((resolve) => {
          const timer = setTimeout(() => {
            if (w.waiting !== null) this.finish(w, merged(w.waiting.order, w.heard));
          }, waitMs);
          w.waiting = { order: now, done, resolve, timer };
        });
      },
      cancel: () => this.forget(w),
    };
  }

  /** Ends every wait with the order as it is known. */
  endAll(): void {
    for (const set of [...this.byOrder.values()]) {
      for (const w of [...set]) if (w.waiting !== null) this.finish(w, w.waiting.order);
    }
    this.byOrder.clear();
  }

  private finish(w: Watching, order: OrderRow): void {
    const waiting = w.waiting;
    this.forget(w);
    waiting?.resolve(order);
  }

  private forget(w: Watching): void {
    if (w.waiting !== null) clearTimeout(w.waiting.timer);
    w.waiting = null;
    const set = this.byOrder.get(w.id);
    set?.delete(w);
    if (set?.size === 0) this.byOrder.delete(w.id);
  }
}

export function createOrderWaiter(pool: Pool, options: OrderWaiterOptions): OrderWaiter {
  const watches = new Watches();
  let backstop: NodeJS.Timeout | null = null;
  let polling = false;

  async function poll(): Promise<void> {
    if (polling) return;
    polling = true;
    try {
      const ids = watches.ids();
      if (ids.length > 0) for (const change of await orderChanges(pool, ids)) watches.hear(change);
    } catch (error) {
      options.logger.debug({ err: error }, 'order waiter poll failed; the next one retries');
    } finally {
      polling = false;
    }
  }

  const onNotify = (payload?: string) => {
    if (payload === undefined) return void poll(); // (re)connected: a change may have been missed
    const change = parseChange(payload);
    if (change !== null) watches.hear(change);
  };
  const listener =
    options.listenUrl === undefined
      ? null
      : listen(options.listenUrl, orderStatusChannel, options.logger, onNotify, 'order-engine-api-waiter');

  // The backstop polls only while somebody waits.
  const ensureBackstop = () => {
    backstop ??= setInterval(() => {
      if (watches.size === 0 && backstop !== null) {
        clearInterval(backstop);
        backstop = null;
        return;
      }
      void poll();
    }, options.backstopMs);
  };

  return {
    watch: (id) => watches.add(id, ensureBackstop),
    async close() {
      if (backstop !== null) clearInterval(backstop);
      watches.endAll();
      await listener?.close();
    },
  };
}

/** The notification's JSON (orders module, saveBatch), or null if it is not one. */
function parseChange(payload: string): OrderChange | null {
  try {
    const raw = JSON.parse(payload) as Record<string, unknown>;
    if (typeof raw.id !== 'string' || typeof raw.version !== 'number') return null;
    return {
      id: raw.id,
      status: raw.status as OrderChange['status'],
      state: String(raw.state),
      version: raw.version,
      discount: String(raw.discount),
      total: String(raw.total),
      failure_reason: typeof raw.failure_reason === 'string' ? raw.failure_reason : null,
      updated_at: new Date(String(raw.updated_at)),
      finalized_at: typeof raw.finalized_at === 'string' ? new Date(raw.finalized_at) : null,
    };
  } catch {
    return null;
  }
}
