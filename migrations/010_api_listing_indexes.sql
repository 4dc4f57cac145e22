-- 010: indexes for the API's keyset pages. No invariant changes: these only let
--   GET /orders?user_id=      read one customer's orders newest first, and
--   GET /accounts/{id}/transactions  read one account's entries newest first,
-- without scanning every row.
CREATE INDEX orders_by_user ON orders (user_id, created_at DESC, id DESC);
CREATE INDEX orders_by_created ON orders (created_at DESC, id DESC);
CREATE INDEX ledger_entries_by_account ON ledger_entries (account_id, id DESC);
