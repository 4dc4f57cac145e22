-- 018: an order whose compensation cannot be done halts in status needs_attention until an
-- operator resolves it (POST /api/v1/admin/orders/{id}/resolve). Invariants this migration enforces:
--   status is one of the statuses of machines/order.status.ts, needs_attention included;
--   such an order is not final: finalized_at stays NULL until the operator closes it (the step's
--   save sets finalized_at only for final statuses), so the latency of final orders never counts it.
-- The few orders in it are counted for the gauge order_engine_orders_needing_attention through a
-- partial index, so the periodic check reads them without a scan. It indexes status, which
-- orders_in_flight (016) indexes already: a column a step changes on every save (updated_at,
-- snapshot) in any index, even a partial one's key, would make every order update write index
-- entries instead of a HOT update.
ALTER TABLE orders DROP CONSTRAINT orders_status_check;
ALTER TABLE orders ADD CONSTRAINT orders_status_check CHECK (status IN
  ('pending', 'confirmed', 'rejected', 'failed', 'expired', 'cancelling', 'cancelled', 'needs_attention'));
CREATE INDEX orders_needs_attention ON orders (status) WHERE status = 'needs_attention';
