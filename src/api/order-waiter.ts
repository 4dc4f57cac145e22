// `Prefer: wait` for many requests at once with one query per tick: every waiting request
// registers its order id, and a single poller reads all of them together. PostgreSQL sees a
// bounded load however many clients wait (the actor may run in another process, so the row is
// what we watch).
import type { Pool } from '../platform/db.ts';
import { readOrder, type OrderRow } from '../orders/order.sql.ts';

type OrderStatusRow = Pick<OrderRow, 'id' | 'status' | 'version'>;

interface Waiter {
  id: string;
  deadline: number;
  done: (order: OrderStatusRow) => boolean;
  resolve: (order: OrderStatusRow | undefined) => void;
  reject: (error: unknown) => void;
}

export interface OrderWaiter {
  /** Resolves with the order once `done` holds, or as it is when the time runs out. */
  wait(id: string, waitMs: number, done: (order: OrderStatusRow) => boolean): Promise<OrderRow | undefined>;
}

export function createOrderWaiter(pool: Pool, tickMs = 50): OrderWaiter {
  const waiters = new Set<Waiter>();
  // One poll chain at most: a tick is either scheduled (timer) or in flight (polling), never both.
  let timer: NodeJS.Timeout | null = null;
  let polling = false;
  const schedule = () => {
    if (timer === null && !polling && waiters.size > 0) timer = setTimeout(() => void tick(), tickMs);
  };

  async function tick(): Promise<void> {
    timer = null;
    polling = true;
    const batch = [...waiters];
    try {
      const ids = [...new Set(batch.map((w) => w.id))];
      // Status only: the full row (snapshot and all) is read once, when a wait ends.
      const rows = await pool.query<OrderStatusRow>(
        `SELECT id, status, version FROM orders WHERE id = ANY($1::uuid[])`,
        [ids],
      );
      const byId = new Map(rows.rows.map((r) => [r.id, r]));
      const now = Date.now();
      for (const w of batch) {
        const order = byId.get(w.id);
        if (order === undefined || w.done(order) || now >= w.deadline) {
          waiters.delete(w);
          w.resolve(order);
        }
      }
    } catch (error) {
      for (const w of batch) {
        waiters.delete(w);
        w.reject(error);
      }
    }
    polling = false;
    schedule();
  }

  return {
    async wait(id, waitMs, done) {
      if (waitMs > 0) {
        const seen = await new Promise<OrderStatusRow | undefined>((resolve, reject) => {
          waiters.add({ id, deadline: Date.now() + waitMs, done, resolve, reject });
          schedule();
        });
        if (seen === undefined) return undefined;
      }
      return readOrder(pool, id);
    },
  };
}
