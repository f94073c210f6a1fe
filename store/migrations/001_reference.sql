-- Reference data: the cooperating banks, their financing products, the districts whose
-- finance bureaus oversee the book, and the API principals (keys stored only as hashes).

-- Refuses any change to a row of an append-only table (ledger, audit trail).
CREATE FUNCTION refuse_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$$;

CREATE TABLE banks (
    bank_code  text PRIMARY KEY CHECK (bank_code ~ '^[A-Z][A-Z0-9]{1,15}$'),
    name       text NOT NULL UNIQUE CHECK (name <> ''),
    name_en    text NOT NULL,
    kind       text NOT NULL CHECK (kind IN ('state_owned', 'joint_stock', 'city_commercial', 'rural_commercial')),
    sort_order integer NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);

-- Rates and ratios are unconstrained numerics so that "0.0385" comes back as written.
CREATE TABLE products (
    bank_code          text NOT NULL REFERENCES banks,
    product_code       text NOT NULL CHECK (product_code ~ '^[A-Z0-9_]{1,32}$'),
    max_ratio          numeric NOT NULL CHECK (max_ratio > 0 AND max_ratio <= 1),
    min_rate           numeric NOT NULL CHECK (min_rate >= 0),
    max_rate           numeric NOT NULL,
    max_term_days      integer NOT NULL CHECK (max_term_days >= 1),
    grace_days         integer NOT NULL CHECK (grace_days >= 0),
    penalty_multiplier numeric NOT NULL CHECK (penalty_multiplier >= 1),
    review_sla_days    integer NOT NULL CHECK (review_sla_days >= 1),
    PRIMARY KEY (bank_code, product_code),
    CHECK (min_rate <= max_rate)
);

-- The city and its cities/districts. admin_code is the GB/T 2260 code where one exists
-- (a development zone has none).
CREATE TABLE districts (
    name       text PRIMARY KEY,
    admin_code text UNIQUE,
    level      text NOT NULL CHECK (level IN ('city', 'district', 'county_city', 'development_zone')),
    sort_order integer NOT NULL
);

CREATE TABLE api_principals (
    principal_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    key_hash     bytea NOT NULL UNIQUE CHECK (length(key_hash) = 32),  -- SHA-256 of the key
    kind         text NOT NULL CHECK (kind IN ('bank', 'ops')),
    bank_code    text REFERENCES banks,
    label        text NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    revoked_at   timestamptz,
    CHECK ((kind = 'bank') = (bank_code IS NOT NULL))  -- a bank key is bound to exactly one bank
);
