-- The audit trail: append-only and hash-chained. Each row stores
-- hash = sha256(prev_hash || canonical JSON of the row), so changing, removing or
-- reordering any row breaks every hash after it. Writers serialise on the single
-- audit_chain_head row (SELECT ... FOR UPDATE), so the chain never forks. details are kept
-- as the exact canonical text that was hashed, with a jsonb copy for queries.

CREATE TABLE audit_log (
    seq            bigint PRIMARY KEY CHECK (seq >= 1),
    at             timestamptz NOT NULL,
    actor          text NOT NULL,
    action         text NOT NULL,
    application_id text,
    details_json   text NOT NULL,
    details        jsonb GENERATED ALWAYS AS (details_json::jsonb) STORED,
    prev_hash      text NOT NULL CHECK (prev_hash ~ '^[0-9a-f]{64}$'),
    hash           text NOT NULL UNIQUE CHECK (hash ~ '^[0-9a-f]{64}$')
);

CREATE INDEX audit_log_application ON audit_log (application_id, seq) WHERE application_id IS NOT NULL;

CREATE TABLE audit_chain_head (
    singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    seq       bigint NOT NULL,
    hash      text NOT NULL
);
INSERT INTO audit_chain_head (singleton, seq, hash) VALUES (true, 0, repeat('0', 64));

CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION refuse_change();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION refuse_change();
