-- 006: the outbox knows which queue messages were processed. Guarantees:
--   a queue message's row gets processed_at in the same transaction as its receiver's inbox row;
--   so a message that was handed to BullMQ but never processed (its job lost with Redis' data,
--   say) is found by an index over the few unprocessed rows, and handed over again.

ALTER TABLE outbox ADD COLUMN processed_at timestamptz;

-- Rows written before this migration: processed exactly when their receiver's inbox says so.
UPDATE outbox o SET processed_at = i.processed_at
  FROM inbox i
 WHERE o.destination LIKE 'queue:%'
   AND i.consumer = split_part(o.destination, ':', 2)
   AND i.message_id = o.message_id;

CREATE INDEX outbox_queue_unprocessed ON outbox (id)
  WHERE processed_at IS NULL AND parked_at IS NULL AND destination LIKE 'queue:%';
