-- 012: the operator's audit trail. Invariants this migration enforces in PostgreSQL:
--   audit_log: append-only (UPDATE, DELETE and TRUNCATE refused): what an operator did stays
--     written, whoever later holds the database role the engine writes with.
--   every row names its actor (the token's subject) and role, the action, and its outcome; an
--     order id is a UUID and a product id has the catalogue's shape, so a filter by either is exact.
-- The audit row of an action with a transaction of its own (force-cancel, stock, price, coupon)
-- is written in that transaction: the action and its row commit together or not at all.
-- orders_by_correlation changes no invariant: the console's search box finds an order by the
-- correlation id a customer or a log line gives, without scanning the orders.
CREATE TABLE audit_log (
  id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  at              timestamptz NOT NULL DEFAULT now(),
  actor           text NOT NULL CHECK (actor ~ '^[A-Za-z0-9_.-]{1,64}$'),
  actor_role      text NOT NULL CHECK (actor_role IN ('admin', 'viewer', 'customer')),
  action          text NOT NULL CHECK (action ~ '^[a-z][a-z_]*(\.[a-z_]+)*$' AND length(action) <= 64),
  order_id        uuid,
  product_id      text CHECK (product_id ~ '^[A-Za-z0-9_.-]{1,64}$'),
  target          text CHECK (length(target) BETWEEN 1 AND 300),
  outcome         text NOT NULL CHECK (outcome ~ '^[a-z0-9_]{1,64}$'),
  detail          jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(detail) = 'object'),
  correlation_id  text CHECK (length(correlation_id) BETWEEN 1 AND 100)
);
CREATE INDEX audit_log_by_order ON audit_log (order_id, id DESC) WHERE order_id IS NOT NULL;
CREATE INDEX audit_log_by_product ON audit_log (product_id, id DESC) WHERE product_id IS NOT NULL;
CREATE INDEX audit_log_by_actor ON audit_log (actor, id DESC);

CREATE FUNCTION audit_log_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'audit_log is append-only: % refused', TG_OP USING ERRCODE = '42501';
END $$;

CREATE TRIGGER audit_log_append_only
  BEFORE UPDATE OR DELETE ON audit_log
  FOR EACH ROW EXECUTE FUNCTION audit_log_refuse_change();
CREATE TRIGGER audit_log_no_truncate
  BEFORE TRUNCATE ON audit_log
  FOR EACH STATEMENT EXECUTE FUNCTION audit_log_refuse_change();

CREATE INDEX orders_by_correlation ON orders (correlation_id);
