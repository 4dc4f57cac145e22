-- 015: one meaning per column in the outbox. dispatched_at meant two things by destination (007):
-- on a queue row "the sweeper handed it over (again)", on a Kafka row "the relay published it".
-- It becomes two columns, each named for what it means. Invariants this migration enforces:
--   published_at is set only on a Kafka row: the relay published it (after the broker's ack);
--   swept_at is set only on a queue row: when the sweeper last handed it over;
-- so a reader that forgets to filter by destination can no longer mix the two.
-- History is kept: each row's old mark moves to the column of its meaning. The Kafka rows keep
-- theirs in place (a rename, so the relay's index follows without a rebuild); only queue rows
-- that the sweeper ever handed over are rewritten.

ALTER TABLE outbox RENAME COLUMN dispatched_at TO published_at;
ALTER TABLE outbox ADD COLUMN swept_at timestamptz;

UPDATE outbox SET swept_at = published_at, published_at = NULL
 WHERE destination LIKE 'queue:%' AND published_at IS NOT NULL;

ALTER TABLE outbox ADD CONSTRAINT outbox_published_only_kafka
  CHECK (published_at IS NULL OR destination LIKE 'kafka:%');
ALTER TABLE outbox ADD CONSTRAINT outbox_swept_only_queue
  CHECK (swept_at IS NULL OR destination LIKE 'queue:%');

-- 003's index of unpublished Kafka rows now reads published_at (the rename carried it over); its
-- name says so too.
ALTER INDEX outbox_kafka_pending RENAME TO outbox_kafka_unpublished;
