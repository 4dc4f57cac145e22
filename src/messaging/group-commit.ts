// Group commit: the work items that arrive together are committed in one PostgreSQL transaction.
// A commit costs a round trip per statement and a WAL flush, whatever it carries, so a worker that
// commits what has arrived while its previous commit was in flight pays those costs once per batch,
// not once per message. On an idle engine a batch is a single item and leaves at once: no added
// latency. If a batch fails, every item is committed again alone, so one bad message fails alone
// (and dead-letters alone) while the rest of its batch commits.

export interface GroupCommitOptions {
  /** The most items one transaction carries. */
  batchSizeMax: number;
  /** Transactions in flight at once; arrivals wait for a free one and join the next batch. */
  batchesInFlightMax: number;
  /** How long the first item of a batch waits for company when a transaction is free (0: next tick). */
  lingerMs: number;
}

export interface GroupCommit<W> {
  /** Resolves once the item is committed (in a batch, or alone after its batch failed). */
  submit(work: W): Promise<void>;
  /** Items waiting or in flight. */
  size(): number;
}

interface Pending<W> {
  work: W;
  resolve: () => void;
  reject: (error: unknown) => void;
}

export interface GroupCommitHooks {
  /** Called after a batch of more than one item failed and its items are retried alone. */
  onSplit?: (size: number, error: unknown) => void;
  onBatch?: (size: number) => void;
}

export function createGroupCommit<W>(
  options: GroupCommitOptions,
  commit: (batch: W[]) => Promise<void>,
  hooks: GroupCommitHooks = {},
): GroupCommit<W> {
  const waiting: Array<Pending<W>> = [];
  let inFlight = 0;
  let inFlightItems = 0;
  let scheduled = false;

  async function run(batch: Array<Pending<W>>): Promise<void> {
    hooks.onBatch?.(batch.length);
    try {
      await commit(batch.map((p) => p.work));
      for (const p of batch) p.resolve();
      return;
    } catch (error) {
      if (batch.length === 1) {
        batch[0]?.reject(error);
        return;
      }
      hooks.onSplit?.(batch.length, error);
    }
    // One at a time: the items of a failed batch often touch the same rows.
    for (const p of batch) {
      try {
        await commit([p.work]);
        p.resolve();
      } catch (error) {
        p.reject(error);
      }
    }
  }

  function flush(): void {
    scheduled = false;
    while (inFlight < options.batchesInFlightMax && waiting.length > 0) {
      const batch = waiting.splice(0, options.batchSizeMax);
      inFlight += 1;
      inFlightItems += batch.length;
      void run(batch).finally(() => {
        inFlight -= 1;
        inFlightItems -= batch.length;
        flush();
      });
    }
  }

  function schedule(): void {
    if (scheduled || inFlight >= options.batchesInFlightMax) return;
    scheduled = true;
    if (options.lingerMs > 0) setTimeout(flush, options.lingerMs);
    else setImmediate(flush);
  }

  return {
    submit(work) {
      return new Promise<void>((resolve, reject) => {
        waiting.push({ work, resolve, reject });
        if (waiting.length >= options.batchSizeMax && inFlight < options.batchesInFlightMax) flush();
        else schedule();
      });
    },
    size: () => waiting.length + inFlightItems,
  };
}
