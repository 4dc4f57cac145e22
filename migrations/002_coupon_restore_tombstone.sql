-- 002: a coupon restore that arrives before its redeem leaves a tombstone row for the order.
-- coupon.restore carries no code (its payload is empty), so that tombstone cannot name a coupon.
-- Invariants this migration enforces:
--   only a tombstone (status 'restored', never redeemed) has no coupon, and it carries no discount;
--   a row that names a coupon was a redemption: it has its discount and currency.
ALTER TABLE coupon_redemptions ALTER COLUMN coupon_code DROP NOT NULL;

ALTER TABLE coupon_redemptions
  ADD CONSTRAINT coupon_redemption_tombstone_names_no_coupon CHECK (
    coupon_code IS NOT NULL OR (status = 'restored' AND discount IS NULL AND currency IS NULL)),
  ADD CONSTRAINT coupon_redemption_has_discount CHECK (
    coupon_code IS NULL OR (discount IS NOT NULL AND currency IS NOT NULL));

-- A restored row (tombstone or undone redemption) never becomes a redemption again: a late
-- redeem must not take a coupon that its order already gave back.
CREATE FUNCTION coupon_redemption_restored_is_final() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF OLD.status = 'restored' AND NEW IS DISTINCT FROM OLD THEN
    RAISE EXCEPTION 'coupon redemption of order % is restored; it cannot change', OLD.order_id
      USING ERRCODE = '23514', CONSTRAINT = 'coupon_redemption_restored_is_final';
  END IF;
  RETURN NEW;
END $$;

CREATE TRIGGER coupon_redemptions_restored_is_final
  BEFORE UPDATE ON coupon_redemptions
  FOR EACH ROW EXECUTE FUNCTION coupon_redemption_restored_is_final();
