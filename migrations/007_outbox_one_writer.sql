-- 007: the outbox for a batched runtime with one writer per row on the hot path. Guarantees:
--   a queue row is written by its sender (INSERT) and by its receiver (processed_at, in the
--   transaction of the receiver's inbox row), and by nobody else while it flows: the fast path no
--   longer marks dispatched_at, so no two transactions queue on one row's lock;
--   dispatched_at of a queue row is written only by the sweeper, off the hot path, when it hands a
--   row over again; dispatched_at of a Kafka row is still the relay's "published" mark;
--   due_at says when a queue row may be delivered (now for commands and answers, later for
--   timers); the sweeper finds due, unprocessed rows by an index over those few rows only;
--   a committed statement that inserts Kafka-bound rows sends ONE notification on 'outbox_kafka'
--   (a statement trigger over the inserted rows), not one trigger call per row.

ALTER TABLE outbox ADD COLUMN due_at timestamptz;
UPDATE outbox SET due_at = created_at + make_interval(secs => delay_ms::double precision / 1000);
ALTER TABLE outbox ALTER COLUMN due_at SET NOT NULL, ALTER COLUMN due_at SET DEFAULT now();
ALTER TABLE outbox ADD CONSTRAINT outbox_due_after_creation CHECK (due_at >= created_at);

-- Rows a receiver still owes: commands and answers in flight, and timers not yet due or withdrawn.
DROP INDEX outbox_queue_unprocessed;
CREATE INDEX outbox_queue_due ON outbox (due_at)
  WHERE processed_at IS NULL AND parked_at IS NULL AND destination LIKE 'queue:%';

-- Only the old dispatcher read these; every index is one more write per row.
DROP INDEX outbox_pending;
DROP INDEX outbox_dispatched;
-- Retention prunes delivered rows oldest first.
CREATE INDEX outbox_created ON outbox (created_at);

DROP TRIGGER outbox_kafka_row_inserted ON outbox;
DROP FUNCTION outbox_notify_kafka_row();

CREATE FUNCTION outbox_notify_kafka_statement() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF EXISTS (SELECT 1 FROM inserted WHERE destination LIKE 'kafka:%') THEN
    PERFORM pg_notify('outbox_kafka', '');
  END IF;
  RETURN NULL;
END $$;

CREATE TRIGGER outbox_kafka_inserted
  AFTER INSERT ON outbox
  REFERENCING NEW TABLE AS inserted
  FOR EACH STATEMENT EXECUTE FUNCTION outbox_notify_kafka_statement();
