-- 001: the engine's schema. Invariants this migration enforces in PostgreSQL:
--   stock:     available, held, sold >= 0 and available + held + sold = on_hand (stock is conserved).
--   coupons:   0 <= redemptions_count <= redemptions_max; a discount is positive.
--   money:     every amount is NUMERIC and > 0, always next to a 3-letter currency.
--   ledger:    a journal transaction balances per currency (deferred constraint trigger, checked
--              at COMMIT); entries and transactions are append-only (UPDATE/DELETE refused).
--   messages:  one inbox row per (consumer, message id); one outbox row per message id.
--   orders:    one transition row per (order, seq); the snapshot version only grows.

-- inventory ------------------------------------------------------------------------------------
CREATE TABLE products (
  id          text PRIMARY KEY CHECK (id ~ '^[A-Za-z0-9_.-]{1,64}$'),
  name        text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
  price       numeric(20, 4) NOT NULL CHECK (price > 0),
  currency    char(3) NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
  created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE stock (
  product_id  text PRIMARY KEY REFERENCES products (id),
  on_hand     integer NOT NULL CHECK (on_hand >= 0),
  available   integer NOT NULL CHECK (available >= 0),
  held        integer NOT NULL DEFAULT 0 CHECK (held >= 0),
  sold        integer NOT NULL DEFAULT 0 CHECK (sold >= 0),
  CONSTRAINT stock_conserved CHECK (available + held + sold = on_hand),
  CONSTRAINT stock_held_within_on_hand CHECK (held <= on_hand)
);

-- One row per order that ever asked for stock. Its status is the tombstone that makes a late
-- reserve (after its release) a no-op: no hanging reservation.
CREATE TABLE reservation_groups (
  order_id    uuid PRIMARY KEY,
  status      text NOT NULL CHECK (status IN ('held', 'committed', 'released', 'refused')),
  expires_at  timestamptz,
  created_at  timestamptz NOT NULL DEFAULT now(),
  updated_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE reservations (
  order_id    uuid NOT NULL REFERENCES reservation_groups (order_id),
  product_id  text NOT NULL REFERENCES products (id),
  quantity    integer NOT NULL CHECK (quantity > 0),
  status      text NOT NULL CHECK (status IN ('held', 'committed', 'released')),
  expires_at  timestamptz NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now(),
  updated_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (order_id, product_id)
);
CREATE INDEX reservations_held_expiry ON reservations (expires_at) WHERE status = 'held';

-- coupons --------------------------------------------------------------------------------------
CREATE TABLE coupons (
  code               text PRIMARY KEY CHECK (code ~ '^[A-Z0-9_-]{1,40}$'),
  kind               text NOT NULL CHECK (kind IN ('percent', 'fixed')),
  percent_off        numeric(5, 2) CHECK (percent_off > 0 AND percent_off <= 100),
  amount_off         numeric(20, 4) CHECK (amount_off > 0),
  currency           char(3) CHECK (currency ~ '^[A-Z]{3}$'),
  expires_at         timestamptz,
  redemptions_max    integer NOT NULL CHECK (redemptions_max > 0),
  redemptions_count  integer NOT NULL DEFAULT 0 CHECK (redemptions_count >= 0),
  created_at         timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT coupon_redemptions_within_max CHECK (redemptions_count <= redemptions_max),
  CONSTRAINT coupon_kind_fields CHECK (
    (kind = 'percent' AND percent_off IS NOT NULL AND amount_off IS NULL)
    OR (kind = 'fixed' AND amount_off IS NOT NULL AND currency IS NOT NULL AND percent_off IS NULL))
);

-- One row per order that ever touched a coupon; status 'restored' is the tombstone that makes a
-- late redeem (after its restore) a no-op.
CREATE TABLE coupon_redemptions (
  order_id     uuid PRIMARY KEY,
  coupon_code  text NOT NULL REFERENCES coupons (code),
  status       text NOT NULL CHECK (status IN ('redeemed', 'restored')),
  discount     numeric(20, 4) CHECK (discount >= 0),
  currency     char(3) CHECK (currency ~ '^[A-Z]{3}$'),
  created_at   timestamptz NOT NULL DEFAULT now(),
  updated_at   timestamptz NOT NULL DEFAULT now()
);

-- orders ---------------------------------------------------------------------------------------
CREATE TABLE orders (
  id                uuid PRIMARY KEY,
  user_id           text NOT NULL CHECK (user_id ~ '^[A-Za-z0-9_.-]{1,64}$'),
  currency          char(3) NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
  status            text NOT NULL CHECK (status IN
                      ('pending', 'confirmed', 'rejected', 'failed', 'expired', 'cancelling', 'cancelled')),
  state             text NOT NULL,
  snapshot          jsonb NOT NULL,
  version           integer NOT NULL CHECK (version >= 1),
  items             jsonb NOT NULL,
  subtotal          numeric(20, 4) NOT NULL CHECK (subtotal > 0),
  discount          numeric(20, 4) NOT NULL DEFAULT 0 CHECK (discount >= 0),
  total             numeric(20, 4) NOT NULL CHECK (total >= 0),
  coupon_code       text,
  shipping_address  jsonb NOT NULL,
  failure_reason    text,
  correlation_id    text NOT NULL,
  created_at        timestamptz NOT NULL DEFAULT now(),
  updated_at        timestamptz NOT NULL DEFAULT now(),
  finalized_at      timestamptz,
  CONSTRAINT order_total_is_subtotal_less_discount CHECK (total = subtotal - discount)
);
CREATE INDEX orders_status ON orders (status, updated_at);

CREATE TABLE order_transitions (
  order_id    uuid NOT NULL REFERENCES orders (id),
  seq         integer NOT NULL CHECK (seq >= 1),
  from_state  text,
  to_state    text NOT NULL,
  event_type  text NOT NULL,
  message_id  text NOT NULL,
  event       jsonb NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (order_id, seq)
);

-- payments -------------------------------------------------------------------------------------
-- The engine's view of each provider call. One row per idempotency key.
CREATE TABLE payments (
  idempotency_key  text PRIMARY KEY,
  order_id         uuid NOT NULL,
  kind             text NOT NULL CHECK (kind IN ('charge', 'refund')),
  status           text NOT NULL CHECK (status IN ('pending', 'succeeded', 'declined', 'cancelled')),
  amount           numeric(20, 4) NOT NULL CHECK (amount >= 0),
  currency         char(3) NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
  provider_ref     text,
  failure_reason   text,
  created_at       timestamptz NOT NULL DEFAULT now(),
  updated_at       timestamptz NOT NULL DEFAULT now(),
  UNIQUE (order_id, kind)
);

-- The simulated provider's own book, as a real provider would keep it: a second charge with the
-- same idempotency key returns the first result, so double charges can be counted here.
CREATE TABLE provider_charges (
  id               text PRIMARY KEY,
  idempotency_key  text NOT NULL UNIQUE,
  kind             text NOT NULL CHECK (kind IN ('charge', 'refund')),
  order_id         uuid NOT NULL,
  amount           numeric(20, 4) NOT NULL CHECK (amount > 0),
  currency         char(3) NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
  -- 'voided': a refund arrived before its charge; a later charge with that key is refused.
  status           text NOT NULL CHECK (status IN ('succeeded', 'declined', 'voided')),
  refunds_charge   text REFERENCES provider_charges (id),
  created_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX provider_charges_order ON provider_charges (order_id);

-- ledger ---------------------------------------------------------------------------------------
CREATE TABLE ledger_accounts (
  id          text PRIMARY KEY CHECK (id ~ '^[a-z]+:[A-Za-z0-9_.-]+$'),
  kind        text NOT NULL CHECK (kind IN ('asset', 'liability', 'revenue', 'expense', 'equity')),
  created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE ledger_transactions (
  id           uuid PRIMARY KEY,
  order_id     uuid NOT NULL,
  kind         text NOT NULL CHECK (kind IN ('order.payment', 'order.reversal')),
  reverses     uuid REFERENCES ledger_transactions (id),
  description  text NOT NULL,
  created_at   timestamptz NOT NULL DEFAULT now(),
  UNIQUE (order_id, kind),
  -- A reversal with no original is the tombstone that refuses a late posting (no hanging post).
  CONSTRAINT only_reversals_reverse CHECK (kind = 'order.reversal' OR reverses IS NULL)
);

CREATE TABLE ledger_entries (
  id              bigserial PRIMARY KEY,
  transaction_id  uuid NOT NULL REFERENCES ledger_transactions (id),
  account_id      text NOT NULL REFERENCES ledger_accounts (id),
  direction       text NOT NULL CHECK (direction IN ('debit', 'credit')),
  amount          numeric(20, 4) NOT NULL CHECK (amount > 0),
  currency        char(3) NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
  created_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX ledger_entries_transaction ON ledger_entries (transaction_id);
CREATE INDEX ledger_entries_account ON ledger_entries (account_id, currency);

-- Checked at COMMIT, once per inserted entry: the entry's transaction must balance per currency
-- and have entries at all. Unbalanced data cannot commit.
CREATE FUNCTION ledger_transaction_must_balance() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  bad record;
BEGIN
  SELECT currency, sum(CASE direction WHEN 'debit' THEN amount ELSE -amount END) AS net
    INTO bad
    FROM ledger_entries
   WHERE transaction_id = NEW.transaction_id
   GROUP BY currency
  HAVING sum(CASE direction WHEN 'debit' THEN amount ELSE -amount END) <> 0
   LIMIT 1;
  IF FOUND THEN
    RAISE EXCEPTION 'ledger transaction % is unbalanced in %: debits - credits = %',
      NEW.transaction_id, bad.currency, bad.net
      USING ERRCODE = '23514', CONSTRAINT = 'ledger_transaction_balanced';
  END IF;
  RETURN NULL;
END $$;

CREATE CONSTRAINT TRIGGER ledger_entries_balanced
  AFTER INSERT ON ledger_entries
  DEFERRABLE INITIALLY DEFERRED
  FOR EACH ROW EXECUTE FUNCTION ledger_transaction_must_balance();

CREATE FUNCTION ledger_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION '% is append-only: % refused; post a reversing transaction instead',
    TG_TABLE_NAME, TG_OP USING ERRCODE = '42501';
END $$;

CREATE TRIGGER ledger_entries_append_only
  BEFORE UPDATE OR DELETE ON ledger_entries
  FOR EACH ROW EXECUTE FUNCTION ledger_refuse_change();
CREATE TRIGGER ledger_entries_no_truncate
  BEFORE TRUNCATE ON ledger_entries
  FOR EACH STATEMENT EXECUTE FUNCTION ledger_refuse_change();
CREATE TRIGGER ledger_transactions_append_only
  BEFORE UPDATE OR DELETE ON ledger_transactions
  FOR EACH ROW EXECUTE FUNCTION ledger_refuse_change();

-- messaging ------------------------------------------------------------------------------------
-- destination is 'queue:<name>' (BullMQ) or 'kafka:<topic>'. key orders rows: the order id.
CREATE TABLE outbox (
  id              bigserial PRIMARY KEY,
  message_id      text NOT NULL UNIQUE,
  destination     text NOT NULL CHECK (destination ~ '^(queue|kafka):[a-z0-9-]+$'),
  key             text NOT NULL,
  type            text NOT NULL,
  payload         jsonb NOT NULL,
  headers         jsonb NOT NULL DEFAULT '{}',
  delay_ms        integer NOT NULL DEFAULT 0 CHECK (delay_ms >= 0),
  created_at      timestamptz NOT NULL DEFAULT now(),
  dispatched_at   timestamptz,
  attempts        integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
  last_error      text,
  parked_at       timestamptz
);
CREATE INDEX outbox_pending ON outbox (id) WHERE dispatched_at IS NULL AND parked_at IS NULL;
CREATE INDEX outbox_dispatched ON outbox (dispatched_at) WHERE dispatched_at IS NOT NULL;

CREATE TABLE inbox (
  consumer      text NOT NULL,
  message_id    text NOT NULL,
  processed_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (consumer, message_id)
);

-- A job that exhausted its attempts lands here too, so it is durable, countable and replayable.
CREATE TABLE dead_letters (
  id            bigserial PRIMARY KEY,
  queue         text NOT NULL,
  job_id        text NOT NULL,
  message_id    text,
  data          jsonb NOT NULL,
  error         text NOT NULL,
  attempts      integer NOT NULL,
  created_at    timestamptz NOT NULL DEFAULT now(),
  UNIQUE (queue, job_id)
);

-- api ------------------------------------------------------------------------------------------
CREATE TABLE idempotency_keys (
  caller           text NOT NULL,
  key              text NOT NULL CHECK (length(key) BETWEEN 1 AND 200),
  request_hash     text NOT NULL,
  response_status  integer,
  response_body    jsonb,
  created_at       timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (caller, key)
);
