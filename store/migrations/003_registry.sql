-- The financing registry: at most one active financing per contract. The partial unique
-- index is the rule itself, so no interleaving of requests or workers can break it.

CREATE TABLE financing_registry (
    registration_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    contract_no     text NOT NULL,
    application_id  text NOT NULL,
    bank_code       text NOT NULL REFERENCES banks,
    claimed_at      timestamptz NOT NULL DEFAULT now(),
    released_at     timestamptz,
    release_reason  text,
    CHECK (released_at IS NULL OR released_at >= claimed_at)
);

CREATE UNIQUE INDEX financing_registry_one_active_per_contract
    ON financing_registry (contract_no) WHERE released_at IS NULL;
CREATE INDEX financing_registry_application ON financing_registry (application_id);
