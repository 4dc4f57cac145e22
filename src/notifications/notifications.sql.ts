// The notifications module's SQL: its own inbox of Kafka events and the notifications it sent.
// The primary key of the inbox and the (order_id, kind) unique constraint are the guards against
// a redelivered event; the consumer's Kafka offsets are only a bookmark.
import type { Queryable } from '../platform/db.ts';

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

/** One received event, with the notification it asks for, if any. */
export interface ReceivedEventWork extends ReceivedEvent {
  correlationId: string | null;
  notify: { kind: NotificationKind; payload: Record<string, unknown> } | null;
}

/**
 * Records a batch of received events and sends what they ask for, in one statement (one
 * transaction). An event id already in the inbox (a redelivery, even one racing this batch on
 * another consumer, which waits for its commit) is skipped and sends nothing; at most one
 * notification exists per (order, kind), whichever event asks first. Returns how many events were
 * new and how many notifications were sent.
 */
export async function recordEvents(db: Queryable, events: ReceivedEventWork[]): Promise<{ new: number; sent: number }> {
  if (events.length === 0) return { new: 0, sent: 0 };
  const result = await db.query<{ new: number; sent: number }>({
    name: 'notifications-record-batch',
    text: `WITH claimed AS (
       INSERT INTO notification_inbox (event_id, order_id, type)
       SELECT e.event_id, e.order_id, e.type
         FROM jsonb_to_recordset($1::jsonb) AS e(event_id text, order_id uuid, type text)
        ORDER BY e.event_id
       ON CONFLICT (event_id) DO NOTHING RETURNING event_id),
     sent AS (
       INSERT INTO notifications (order_id, kind, event_id, correlation_id, payload)
       SELECT e.order_id, e.kind, e.event_id, e.correlation_id, e.payload
         FROM jsonb_to_recordset($1::jsonb) AS e(event_id text, order_id uuid, kind text, correlation_id text,
              payload jsonb)
        WHERE e.kind IS NOT NULL AND e.event_id IN (SELECT event_id FROM claimed)
       ON CONFLICT (order_id, kind) DO NOTHING RETURNING 1)
     SELECT (SELECT count(*) FROM claimed)::int AS new, (SELECT count(*) FROM sent)::int AS sent`,
    values: [
      JSON.stringify(
        events.map((e) => ({
          event_id: e.eventId,
          order_id: e.orderId,
          type: e.type,
          kind: e.notify?.kind ?? null,
          correlation_id: e.correlationId,
          payload: e.notify?.payload ?? null,
        })),
      ),
    ],
  });
  return result.rows[0] ?? { new: 0, sent: 0 };
}

export async function findNotifications(db: Queryable, orderId: string): Promise<NotificationRow[]> {
  const result = await db.query<NotificationRow>(
    `SELECT id, order_id, kind, event_id, correlation_id, payload, sent_at FROM notifications
      WHERE order_id = $1 ORDER BY id`,
    [orderId],
  );
  return result.rows;
}

/**
 * Deletes up to `limit` inbox rows received more than `retentionMs` ago, oldest first (rule:
 * migrations/013_retention.sql; the caller checks the window against the topic's). The notifications
 * they caused stay: notifications_once_per_order, not the inbox, keeps a late duplicate from
 * sending twice. Returns how many rows went.
 */
export async function pruneNotificationInbox(db: Queryable, retentionMs: number, limit: number): Promise<number> {
  const result = await db.query({
    name: 'notification-inbox-prune',
    text: `DELETE FROM notification_inbox n
      WHERE n.event_id IN (
              SELECT event_id FROM notification_inbox
               WHERE received_at < now() - make_interval(secs => $1::double precision / 1000)
               ORDER BY received_at LIMIT $2
                 FOR UPDATE SKIP LOCKED)
        AND n.received_at < now() - make_interval(secs => $1::double precision / 1000)`,
    values: [retentionMs, limit],
  });
  return result.rowCount ?? 0;
}
