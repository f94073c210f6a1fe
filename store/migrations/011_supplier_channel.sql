-- The supplier's own channel (API.md v1.1 "Suppliers"): one-time sign-in codes, the guard that
-- locks a credit code after wrong codes, supplier sessions, and the financing requests suppliers
-- post with the offers banks answer them with.

-- Codes are kept only as HMAC-SHA256 under a secret the database does not hold.
CREATE TABLE supplier_login_codes (
    code_id     bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    credit_code text NOT NULL,
    code_hash   bytea NOT NULL CHECK (length(code_hash) = 32),
    created_at  timestamptz NOT NULL,
    expires_at  timestamptz NOT NULL,
    used_at     timestamptz
);
CREATE INDEX supplier_login_codes_newest ON supplier_login_codes (credit_code, code_id DESC);

-- One row per credit code that asked for a code or tried one: wrong codes in a row, a lock.
CREATE TABLE supplier_login_guards (
    credit_code    text PRIMARY KEY,
    wrong_in_a_row integer NOT NULL DEFAULT 0 CHECK (wrong_in_a_row >= 0),
    locked_until   timestamptz
);

-- Bearer tokens of principal kind "supplier", kept as their SHA-256 like the API keys.
CREATE TABLE supplier_sessions (
    session_id  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    token_hash  bytea NOT NULL UNIQUE CHECK (length(token_hash) = 32),
    credit_code text NOT NULL,
    created_at  timestamptz NOT NULL,
    expires_at  timestamptz NOT NULL,
    revoked_at  timestamptz
);

-- A supplier's request for financing on one of its contracts, broadcast to every bank.
-- `contract`, `known_paid` and `credit_profile` are what banks decide on, as read when it was made.
CREATE TABLE financing_requests (
    request_id              text PRIMARY KEY,
    supplier_credit_code    text NOT NULL,
    contract_no             text NOT NULL,
    requested_amount        numeric(18, 2) NOT NULL CHECK (requested_amount > 0),
    collection_account_no   text NOT NULL,
    collection_account_name text NOT NULL,
    status                  text NOT NULL CHECK (status IN ('open', 'accepting', 'accepted', 'cancelled')),
    contract                jsonb NOT NULL,
    known_paid              numeric(18, 2) NOT NULL,
    credit_profile          jsonb NOT NULL,
    accepted_offer_id       text,
    application_id          text,
    created_at              timestamptz NOT NULL DEFAULT now(),
    updated_at              timestamptz NOT NULL DEFAULT now()
);
-- one request in play per contract, whatever races (accepting: the platform is submitting it)
CREATE UNIQUE INDEX financing_requests_one_open_per_contract ON financing_requests (contract_no)
    WHERE status IN ('open', 'accepting');
CREATE INDEX financing_requests_supplier ON financing_requests (supplier_credit_code, created_at DESC);
CREATE INDEX financing_requests_newest ON financing_requests (created_at DESC, request_id DESC);

-- A bank's answer to a request. A bank has at most one open offer on a request: a new one
-- replaces it. Accepting one lapses the others.
CREATE TABLE financing_offers (
    offer_id        text PRIMARY KEY,
    request_id      text NOT NULL REFERENCES financing_requests,
    bank_code       text NOT NULL REFERENCES banks,
    product_code    text NOT NULL,
    approved_amount numeric(18, 2) NOT NULL CHECK (approved_amount > 0),
    annual_rate     numeric NOT NULL,
    term_days       integer NOT NULL CHECK (term_days >= 1),
    status          text NOT NULL CHECK (status IN ('open', 'accepted', 'lapsed', 'replaced')),
    created_at      timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX financing_offers_one_open_per_bank ON financing_offers (request_id, bank_code)
    WHERE status = 'open';
CREATE INDEX financing_offers_request ON financing_offers (request_id, created_at);

-- a supplier lists its own applications, every channel
CREATE INDEX applications_supplier ON applications (supplier_credit_code, submitted_at DESC, application_id DESC);
