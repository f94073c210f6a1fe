-- Messages are routed by what is stable for a financing's whole life: the contract's active
-- registration. The registry keeps the collection account that becomes the locked payee
-- account, so a treasury payment is classified without asking which stage the process reached.
ALTER TABLE financing_registry ADD COLUMN collection_account_no text;

-- What became of an accepted message the platform could not hand to its financing (the
-- workflow had ended by the time it was delivered): kept for ops with the reason, never dropped.
ALTER TABLE treasury_payments ADD COLUMN kept_reason text;
ALTER TABLE account_change_events ADD COLUMN kept_reason text;
CREATE INDEX treasury_payments_kept ON treasury_payments (received_at DESC, payment_id DESC)
    WHERE kept_reason IS NOT NULL;
