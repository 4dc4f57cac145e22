-- 005: wake the relay only for Kafka-bound rows. Guarantees, as in 003: a committed insert of
-- Kafka-bound outbox rows sends a notification on 'outbox_kafka' (the relay's poll remains the
-- backstop). Transactions that write only queue rows no longer NOTIFY: PostgreSQL serializes
-- the commits of notifying transactions, so they were paying for a wake-up nobody needed.
-- Row level with a WHEN filter; PostgreSQL folds identical notifications of one transaction.

DROP TRIGGER outbox_kafka_inserted ON outbox;

CREATE FUNCTION outbox_notify_kafka_row() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('outbox_kafka', '');
  RETURN NULL;
END $$;

CREATE TRIGGER outbox_kafka_row_inserted
  AFTER INSERT ON outbox
  FOR EACH ROW WHEN (NEW.destination LIKE 'kafka:%')
  EXECUTE FUNCTION outbox_notify_kafka_row();

DROP FUNCTION outbox_notify_kafka();
