-- 010: the API's keyset pages and atomic idempotency keys. Invariants:
--   idempotency_keys.order_id: a key reserves the id of the one order it may create, before the
--     order exists; the order is written under that id, so orders' primary key refuses a second
--     order for the same (caller, key) whatever crashes between commit and stored answer.
-- The indexes change no invariant: GET /orders?user_id= and GET /accounts/{id}/transactions read
-- newest first without scanning every row.
ALTER TABLE idempotency_keys ADD COLUMN order_id uuid;

CREATE INDEX orders_by_user ON orders (user_id, created_at DESC, id DESC);
CREATE INDEX orders_by_created ON orders (created_at DESC, id DESC);
CREATE INDEX ledger_entries_by_account ON ledger_entries (account_id, id DESC);
