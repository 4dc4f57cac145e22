// The event contract moved to queues/order-events.ts, beside the other message contracts. This
// re-export stays only for src/orders/order.step.ts, which the hot-path rewrite owns: once it
// imports queues/order-events.ts, this file goes (tests/unit/structure.test.ts names the edge).
export * from '../../queues/order-events.ts';
