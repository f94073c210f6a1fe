-- The applications read model: the workflow's view of each application, written at every
-- change. Key columns serve lists, ops queries and the statistics; `view` keeps it whole.

CREATE TABLE applications (
    application_id        text PRIMARY KEY,
    bank_code             text NOT NULL REFERENCES banks,
    contract_no           text NOT NULL,
    supplier_credit_code  text NOT NULL,
    district              text,
    stage                 text NOT NULL CHECK (stage IN (
                              'verifying', 'bank_review', 'account_lock', 'disbursing', 'repaying', 'overdue',
                              'settled', 'rejected', 'withdrawn', 'expired', 'failed', 'written_off')),
    product_code          text NOT NULL,
    requested_amount      numeric(18, 2) NOT NULL,
    approved_amount       numeric(18, 2),
    disbursed_on          date,
    -- A loan is disbursed in full, exactly once: what was approved, from the day it was paid out.
    disbursed_amount      numeric(18, 2) GENERATED ALWAYS AS (
                              CASE WHEN disbursed_on IS NOT NULL THEN approved_amount END) STORED,
    outstanding_principal numeric(18, 2) NOT NULL DEFAULT 0,
    principal_repaid      numeric(18, 2) NOT NULL DEFAULT 0,
    interest_paid         numeric(18, 2) NOT NULL DEFAULT 0,
    penalty_paid          numeric(18, 2) NOT NULL DEFAULT 0,
    surplus_released      numeric(18, 2) NOT NULL DEFAULT 0,
    needs_attention       boolean NOT NULL DEFAULT false,
    attention_reasons     text[] NOT NULL DEFAULT '{}',
    stage_since           timestamptz,
    stage_deadline        timestamptz,
    submitted_at          timestamptz NOT NULL,
    updated_at            timestamptz NOT NULL DEFAULT now(),
    -- Only a higher version overwrites: writes that arrive late or twice change nothing.
    version               bigint NOT NULL,
    last_event            text NOT NULL,
    -- The supplier's collection account, which becomes the contract's locked payee account;
    -- treasury payments to any other account are misdirected.
    collection_account_no text,
    view                  jsonb NOT NULL
);

CREATE INDEX applications_newest ON applications (submitted_at DESC, application_id DESC);
CREATE INDEX applications_bank_newest ON applications (bank_code, submitted_at DESC, application_id DESC);
CREATE INDEX applications_contract ON applications (contract_no);
CREATE INDEX applications_active_deadline ON applications (stage_deadline)
    WHERE stage IN ('verifying', 'bank_review', 'account_lock', 'disbursing', 'repaying', 'overdue');
