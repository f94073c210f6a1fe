-- Idempotency keys of bank requests, scoped per bank. A row is reserved (inserted) before
-- the request is acted on, so two concurrent identical requests cannot both act; the
-- response is filled in afterwards. A refused request's row is deleted, so a retry is
-- evaluated afresh (API.md: refused requests are not remembered).

CREATE TABLE idempotency_keys (
    bank_code       text NOT NULL REFERENCES banks,
    idempotency_key text NOT NULL CHECK (length(idempotency_key) BETWEEN 1 AND 255),
    request_hash    text NOT NULL,
    application_id  text,
    response_status integer,
    response_body   jsonb,
    reserved_at     timestamptz NOT NULL DEFAULT now(),
    completed_at    timestamptz,
    PRIMARY KEY (bank_code, idempotency_key),
    CHECK ((response_status IS NULL) = (completed_at IS NULL))
);
