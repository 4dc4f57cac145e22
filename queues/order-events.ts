// The contract of every event on the Kafka topic order-events. Key: the order id. Headers:
// event-id and correlation-id. Consumers drop duplicates by `id`.
export const eventSchemaVersion = 1;

export const orderEventTypes = [
  'order.created',
  'order.confirmed',
  'order.rejected',
  'order.failed',
  'order.cancelled',
  'order.expired',
  'order.needs_attention',
  'payment.captured',
  'payment.refunded',
  'inventory.reserved',
  'inventory.released',
  'ledger.posted',
  'ledger.reversed',
] as const;

export type OrderEventType = (typeof orderEventTypes)[number];

export interface OrderEventEnvelope<T extends Record<string, unknown> = Record<string, unknown>> {
  /** Unique per event; the same value as the event-id header. */
  id: string;
  type: OrderEventType;
  order_id: string;
  /** ISO 8601, the commit time of the transaction that wrote the event. */
  occurred_at: string;
  schema_version: typeof eventSchemaVersion;
  data: T;
}

export function isOrderEventType(type: string): type is OrderEventType {
  return (orderEventTypes as readonly string[]).includes(type);
}
