-- 016: an order's steps update its row in place. No invariant changes; this is about cost.
--   Most steps leave an order's status alone (pending -> pending: reserving, charging, settling)
--   and change only columns no index reads (state, snapshot, version, totals, updated_at). With no
--   index on updated_at and room left on each page, PostgreSQL updates such a row in place (a HOT
--   update) and writes no index entry at all, instead of one in each of the table's indexes.
--   In-flight orders are found through a partial index on status, over the few that are in flight
--   (stuck orders, orders per state); a status change still maintains it, as it must.
ALTER TABLE orders SET (fillfactor = 85);
DROP INDEX orders_status;
CREATE INDEX orders_in_flight ON orders (status) WHERE status IN ('pending', 'cancelling');
