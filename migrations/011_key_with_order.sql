-- 011: an Idempotency-Key is claimed in its order's own transaction. Invariant from here on:
--   a row of idempotency_keys exists only together with the order it names (both commit, or
--   neither does), so no key is ever "in progress" after a crash, and a retry with the key is
--   answered from its order.
-- Rows an earlier version left without their order (an attempt that died between claiming the key
-- and writing the order) held their key for nothing: they go, and the key may be used again.
DELETE FROM idempotency_keys k
 WHERE k.response_status IS NULL
   AND (k.order_id IS NULL OR NOT EXISTS (SELECT 1 FROM orders o WHERE o.id = k.order_id));
