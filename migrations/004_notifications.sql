-- 004: the notifications consumer of the Kafka topic order-events. Kafka delivers at least once,
-- so these tables, not the consumer's offsets, make a notification happen once. Invariants:
--   notification_inbox: one row per event id, however often the event is delivered.
--   notifications:      at most one row per (order, kind): an order's confirmation is sent once,
--                       whichever of its deliveries (or of its events) arrives first;
--                       every notification names the received event that caused it.

CREATE TABLE notification_inbox (
  event_id     text PRIMARY KEY CHECK (length(event_id) BETWEEN 1 AND 200),
  order_id     uuid NOT NULL,
  type         text NOT NULL CHECK (length(type) BETWEEN 1 AND 100),
  received_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX notification_inbox_order ON notification_inbox (order_id);

-- A row here is the "sent" record: written in the transaction that claims the event's inbox row.
CREATE TABLE notifications (
  id              bigserial PRIMARY KEY,
  order_id        uuid NOT NULL,
  kind            text NOT NULL CHECK (kind IN ('order_confirmation')),
  event_id        text NOT NULL REFERENCES notification_inbox (event_id),
  correlation_id  text,
  payload         jsonb NOT NULL DEFAULT '{}'::jsonb,
  sent_at         timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT notifications_once_per_order UNIQUE (order_id, kind)
);
