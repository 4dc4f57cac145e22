// The notifications module's SQL: its own inbox of Kafka events and the notifications it sent.
// The primary key of the inbox and the (order_id, kind) unique constraint are the guards against
// a redelivered event; the consumer's Kafka offsets are only a bookmark.
import type { Client, Queryable } from '../platform/db.ts';

/** The kinds the notifications table's CHECK allows. */
export type NotificationKind = 'order_confirmation';

export interface ReceivedEvent {
  eventId: string;
  orderId: string;
  type: string;
}

export interface NotificationToSend {
  orderId: string;
  kind: NotificationKind;
  eventId: string;
  correlationId: string | null;
  payload: Record<string, unknown>;
}

export interface NotificationRow {
  id: string;
  order_id: string;
  kind: NotificationKind;
  event_id: string;
  correlation_id: string | null;
  payload: Record<string, unknown>;
  sent_at: Date;
}

/**
 * Records that the event arrived. Returns true the first time only: a second delivery (even one
 * racing the first on another consumer, which waits for its commit) returns false and the caller
 * changes nothing. Runs in the transaction that makes the event's effect.
 */
export async function claimEvent(client: Client, event: ReceivedEvent): Promise<boolean> {
  const result = await client.query(
    `INSERT INTO notification_inbox (event_id, order_id, type) VALUES ($1, $2, $3) ON CONFLICT (event_id) DO NOTHING`,
    [event.eventId, event.orderId, event.type],
  );
  return result.rowCount === 1;
}

/**
 * Writes the "sent" record. At most one per (order, kind): another event that asks for the same
 * notification of the same order finds it sent and returns false.
 */
export async function recordNotification(client: Client, notification: NotificationToSend): Promise<boolean> {
  const result = await client.query(
    `INSERT INTO notifications (order_id, kind, event_id, correlation_id, payload) VALUES ($1, $2, $3, $4, $5)
     ON CONFLICT (order_id, kind) DO NOTHING`,
    [
      notification.orderId,
      notification.kind,
      notification.eventId,
      notification.correlationId,
      JSON.stringify(notification.payload),
    ],
  );
  return result.rowCount === 1;
}

export async function findNotifications(db: Queryable, orderId: string): Promise<NotificationRow[]> {
  const result = await db.query<NotificationRow>(
    `SELECT id, order_id, kind, event_id, correlation_id, payload, sent_at FROM notifications
      WHERE order_id = $1 ORDER BY id`,
    [orderId],
  );
  return result.rows;
}
