-- 013: retention. The tables that drop duplicates (inbox, notification_inbox, idempotency_keys) and
-- the outbox are pruned by one scheduled job (src/retention/retention.job.ts); the business records
-- (orders, order_transitions, ledger, payments, provider_charges, reservations, coupon_redemptions,
-- notifications) are never pruned. A row that drops duplicates may go only when no path can bring
-- its message, event or request again. The rules, which the pruning statements enforce:
--
--   outbox:             a row goes once delivered (a queue row processed by its receiver, a Kafka row
--                       published) and older than OUTBOX_RETENTION_MS; an undelivered row never goes.
--
--   inbox (consumer, message_id): a message reached its consumer by one of two roads.
--     1. As a BullMQ job: its sender wrote an outbox row `queue:<consumer>` with that message_id,
--        which the consumer's claim marked processed. Paths that can deliver it again: the sweeper
--        (only while that outbox row exists), a redrive (only while a dead_letters row names it),
--        and a job still in BullMQ under the message id (a duplicate added, or a finished job
--        retried by hand from Bull Board).
--     2. In its sender's transaction (an answer the order actor applied where the module worker
--        committed its effect): no outbox row, no job. Only a re-run of the command that made the
--        answer could make it again, and that command's own inbox row prevents the re-run for as
--        long as it exists; it is kept by this same rule.
--     So an inbox row goes only when ALL hold:
--       a. it is older than INBOX_RETENTION_MS, which the configuration refuses below
--          OUTBOX_RETENTION_MS (src/platform/config.ts);
--       b. no outbox row with its message_id remains (the sweeper cannot hand it over);
--       c. no dead_letters row names its message_id (a redrive still finds the inbox row; a redrive
--          of a message its consumer already processed adds no job: src/messaging/dead-letters.ts);
--       d. no BullMQ job with the message id as job id exists in the consumer's queue, in any state
--          (checked in Redis by the job between its candidate read and its delete).
--     a-c are in the DELETE statement itself (src/messaging/inbox-retention.sql.ts).
--
--   notification_inbox: a Kafka event can come again while it is in the topic's log, which keeps a
--                       record up to retention.ms after its segment rolls (segment.ms). A row goes
--                       when older than NOTIFICATION_INBOX_RETENTION_MS, and the job prunes none while
--                       that setting is shorter than the topic's retention.ms + segment.ms (read from
--                       the broker). A redelivery after that would still send nothing twice:
--                       notifications_once_per_order holds one confirmation per order.
--
--   idempotency_keys:   a key row goes once older than IDEMPOTENCY_KEY_TTL_MS. After that time the
--                       placement may claim the key again anyway (src/orders/order.sql.ts), so a
--                       pruned key and an expired one answer alike. A key claimed again while the
--                       job runs is younger than the TTL again and is not deleted (the DELETE checks
--                       the age on the row it locks).
--
-- What this migration changes:
--   notifications.event_id no longer references notification_inbox: the notification is the
--   business record and stays; the inbox row that deduplicated its event goes with its retention.
--   The notification still names the event id that caused it, written in the same statement as
--   that event's inbox row (src/notifications/notifications.sql.ts).
--   Indexes let each pruning statement find the oldest rows without reading a whole table. On a big
--   table, build them first with CREATE INDEX CONCURRENTLY under these names: IF NOT EXISTS then
--   skips them here, so this migration never blocks writes for an index build.

ALTER TABLE notifications DROP CONSTRAINT notifications_event_id_fkey;

CREATE INDEX IF NOT EXISTS inbox_processed ON inbox (processed_at);
CREATE INDEX IF NOT EXISTS dead_letters_message ON dead_letters (message_id) WHERE message_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS notification_inbox_received ON notification_inbox (received_at);
CREATE INDEX IF NOT EXISTS idempotency_keys_created ON idempotency_keys (created_at);

COMMENT ON TABLE inbox IS
  'One row per (consumer, message id) processed. Pruned only when older than INBOX_RETENTION_MS, '
  'with no outbox row of its message id, no dead_letters row naming it, and no BullMQ job of that '
  'id left in the consumer''s queue (migration 013).';
COMMENT ON TABLE notification_inbox IS
  'One row per Kafka event id received. Pruned after NOTIFICATION_INBOX_RETENTION_MS, never while '
  'that is shorter than the topic''s retention.ms + segment.ms (migration 013).';
COMMENT ON TABLE idempotency_keys IS
  'One row per (caller, key), written with its order. Pruned after IDEMPOTENCY_KEY_TTL_MS, when '
  'the key may be claimed again anyway (migration 013).';
COMMENT ON TABLE outbox IS
  'Messages to deliver. A delivered row is pruned after OUTBOX_RETENTION_MS; an undelivered row never is.';
