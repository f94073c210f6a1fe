-- The double-entry ledger of every money movement.
--
-- A posting is one business event (a disbursement, an amount received, a write-off) made of
-- at least two entries whose debits equal their credits; a deferred constraint trigger checks
-- that when the transaction commits. Each posting has a unique idempotency key, so a retried
-- activity finds its posting instead of booking the money twice. Nothing is ever updated or
-- deleted: a correction would be a new posting.
--
-- Accounts (per bank and application):
--   loan_receivable      principal the supplier owes the bank (Dr disbursement, Cr principal repaid/written off)
--   supplier_collection  loan proceeds paid into the supplier's collection account (Cr at disbursement)
--   repayments_received  every amount received for the loan: treasury, supplier, recovery (Dr)
--   interest_income      interest received (Cr)
--   penalty_income       penalty interest received (Cr)
--   supplier_surplus     what is left after the loan is repaid, released to the supplier (Cr)
--   write_off            the claim written off: principal, interest and penalty (Dr); recoveries (Cr)
--   claim_in_suspense    interest and penalty written off, never booked as income (Cr); recovered (Dr)
-- Each entry also names its leg (what the money is), so totals do not depend on the accounts.

CREATE TABLE ledger_postings (
    posting_id      bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    idempotency_key text NOT NULL UNIQUE,
    kind            text NOT NULL CHECK (kind IN ('disbursement', 'repayment', 'write_off')),
    application_id  text NOT NULL,
    bank_code       text NOT NULL REFERENCES banks,
    source          text CHECK (source IN ('treasury', 'supplier', 'recovery')),
    source_id       text,
    fingerprint     text NOT NULL,  -- SHA-256 of the posting's content: a reused key with other content is refused
    posted_at       timestamptz NOT NULL DEFAULT now(),
    CHECK ((kind = 'repayment') = (source IS NOT NULL AND source_id IS NOT NULL))
);

-- Business uniqueness beside the idempotency key: one disbursement and one write-off per
-- application, and each amount received (payment_id / repayment_id) booked once.
CREATE UNIQUE INDEX ledger_one_disbursement_per_application
    ON ledger_postings (application_id) WHERE kind = 'disbursement';
CREATE UNIQUE INDEX ledger_one_write_off_per_application
    ON ledger_postings (application_id) WHERE kind = 'write_off';
CREATE UNIQUE INDEX ledger_money_received_once
    ON ledger_postings (application_id, source, source_id) WHERE kind = 'repayment';

CREATE TABLE ledger_entries (
    entry_id       bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    posting_id     bigint NOT NULL REFERENCES ledger_postings,
    account        text NOT NULL CHECK (account IN (
                       'loan_receivable', 'supplier_collection', 'repayments_received', 'interest_income',
                       'penalty_income', 'supplier_surplus', 'write_off', 'claim_in_suspense')),
    leg            text NOT NULL CHECK (leg IN (
                       'disbursed', 'received', 'penalty', 'interest', 'principal', 'surplus', 'claim_recovered')),
    bank_code      text NOT NULL,
    application_id text NOT NULL,
    debit          numeric(18, 2) NOT NULL DEFAULT 0 CHECK (debit >= 0),
    credit         numeric(18, 2) NOT NULL DEFAULT 0 CHECK (credit >= 0),
    CHECK ((debit > 0) <> (credit > 0))  -- exactly one side, and never a zero entry
);

CREATE INDEX ledger_entries_posting ON ledger_entries (posting_id);
CREATE INDEX ledger_entries_application ON ledger_entries (application_id);
CREATE INDEX ledger_entries_bank_account ON ledger_entries (bank_code, account);

CREATE FUNCTION ledger_check_balanced() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    debits  numeric;
    credits numeric;
    entries integer;
BEGIN
    SELECT coalesce(sum(debit), 0), coalesce(sum(credit), 0), count(*)
      INTO debits, credits, entries
      FROM ledger_entries WHERE posting_id = NEW.posting_id;
    IF entries < 2 OR debits <> credits THEN
        RAISE EXCEPTION 'ledger posting % is not balanced: debits %, credits %, % entries',
            NEW.posting_id, debits, credits, entries
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NULL;
END
$$;

-- Checked at commit, when all of a posting's entries are in.
CREATE CONSTRAINT TRIGGER ledger_postings_balanced
    AFTER INSERT ON ledger_postings DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION ledger_check_balanced();
CREATE CONSTRAINT TRIGGER ledger_entries_balanced
    AFTER INSERT ON ledger_entries DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION ledger_check_balanced();

CREATE TRIGGER ledger_postings_append_only BEFORE UPDATE OR DELETE ON ledger_postings
    FOR EACH ROW EXECUTE FUNCTION refuse_change();
CREATE TRIGGER ledger_postings_no_truncate BEFORE TRUNCATE ON ledger_postings
    FOR EACH STATEMENT EXECUTE FUNCTION refuse_change();
CREATE TRIGGER ledger_entries_append_only BEFORE UPDATE OR DELETE ON ledger_entries
    FOR EACH ROW EXECUTE FUNCTION refuse_change();
CREATE TRIGGER ledger_entries_no_truncate BEFORE TRUNCATE ON ledger_entries
    FOR EACH STATEMENT EXECUTE FUNCTION refuse_change();
