-- 003: the outbox relay to Kafka. Invariants and guarantees:
--   a committed insert of Kafka-bound outbox rows wakes the relay (NOTIFY on 'outbox_kafka'; the
--   relay's poll is the backstop, so a lost notification delays, never loses);
--   the relay finds unpublished rows by an index that excludes published and parked ones.

CREATE FUNCTION outbox_notify_kafka() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  -- Once per statement: a transaction writing ten events sends one notification at commit.
  PERFORM pg_notify('outbox_kafka', '');
  RETURN NULL;
END $$;

CREATE TRIGGER outbox_kafka_inserted
  AFTER INSERT ON outbox
  FOR EACH STATEMENT EXECUTE FUNCTION outbox_notify_kafka();

CREATE INDEX outbox_kafka_pending ON outbox (id)
  WHERE dispatched_at IS NULL AND parked_at IS NULL AND destination LIKE 'kafka:%';
CREATE INDEX outbox_parked ON outbox (id) WHERE parked_at IS NOT NULL;
