-- 017: every stored order snapshot names the version of the order machine that wrote it.
-- Invariants this migration enforces:
--   orders.machine_version is the version of the machine definition whose snapshot the row holds
--     (>= 1): the placement statement and the step's save statement write it with the snapshot;
--   a transition that restored an older snapshot through migrations (machines/migrations/) says so:
--     migrated_from < migrated_to, both set or both empty, and migrated_to is the version that stepped.
-- Rows written before this migration were written by version 1, hence the default; the engine
-- writes the column explicitly, the default only dates older rows and tools' inserts. ADD COLUMN
-- with a constant default rewrites no row (the value is kept in the catalog).
ALTER TABLE orders ADD COLUMN machine_version integer NOT NULL DEFAULT 1
  CONSTRAINT orders_machine_version_positive CHECK (machine_version >= 1);

ALTER TABLE order_transitions ADD COLUMN migrated_from integer;
ALTER TABLE order_transitions ADD COLUMN migrated_to integer;
ALTER TABLE order_transitions ADD CONSTRAINT order_transitions_migration_forward
  CHECK ((migrated_from IS NULL AND migrated_to IS NULL)
      OR (migrated_from >= 1 AND migrated_to > migrated_from));
