// The order actor's mailbox (queue "orders"): what does not come out of another module's
// transaction. Customers' and operators' cancels, timers, and answers that travelled as jobs (sent
// by a module running without the order actor, or before this version). A batch of events is one
// transaction through the same step as every module's answers (order.actor.ts).
import { withTransaction } from '../platform/db.ts';
import { firstOfEach, type HandleOnceDeps, type ModuleRuntime } from '../messaging/handle-once.ts';
import { handlerOf, type MessageHandler } from '../messaging/module-worker.ts';
import { applyOrderEvents, orderConsumer, type OrderActorOptions } from './order.actor.ts';

export type OrderWorkerDeps = HandleOnceDeps & OrderActorOptions;

export { orderConsumer };

export function createOrderRuntime(deps: OrderWorkerDeps): ModuleRuntime {
  return {
    consumer: orderConsumer,
    prepare: async (message) => ({ message, effect: async () => [] }),
    async commit(works) {
      const events = firstOfEach(works).map((w) => w.message);
      const { rows, notices } = await withTransaction(
        deps.pool,
        (client) => applyOrderEvents(client, events, deps.topic, deps.machine),
        deps.transaction,
      );
      await deps.dispatcher.dispatch(rows);
      for (const step of notices) deps.onStep?.(step);
    },
  };
}

export function createOrderHandler(deps: OrderWorkerDeps): MessageHandler {
  return handlerOf(createOrderRuntime(deps));
}
