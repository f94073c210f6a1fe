-- Inboxes of the signed callbacks. Each notification is recorded before it is acknowledged;
-- its id is the primary key, so a resent one is recognised as a duplicate and the first
-- copy stands. delivered_at is set once the workflow has been signalled; rows without it
-- are signalled again (a crash between recording and signalling loses nothing).

CREATE TABLE treasury_payments (
    payment_id        text PRIMARY KEY,
    contract_no       text NOT NULL,
    payee_account_no  text NOT NULL,
    amount            numeric(18, 2) NOT NULL CHECK (amount > 0),
    paid_on           date NOT NULL,
    status            text NOT NULL CHECK (status IN ('accepted', 'unmatched', 'misdirected')),
    application_id    text,
    raw_body          bytea NOT NULL,  -- exactly what was signed, for audit
    received_at       timestamptz NOT NULL DEFAULT now(),
    delivered_at      timestamptz,
    duplicates        integer NOT NULL DEFAULT 0,
    last_duplicate_at timestamptz,
    CHECK ((status = 'unmatched') = (application_id IS NULL))
);

CREATE INDEX treasury_payments_for_ops ON treasury_payments (status, received_at DESC, payment_id DESC)
    WHERE status <> 'accepted';
CREATE INDEX treasury_payments_undelivered ON treasury_payments (received_at)
    WHERE delivered_at IS NULL AND status <> 'unmatched';
CREATE INDEX treasury_payments_application ON treasury_payments (application_id);

CREATE TABLE account_change_events (
    event_id          text PRIMARY KEY,
    contract_no       text NOT NULL,
    decision          text NOT NULL CHECK (decision IN ('confirmed', 'refused')),
    decided_at        timestamptz NOT NULL,
    status            text NOT NULL CHECK (status IN ('accepted', 'unmatched')),
    application_id    text,
    raw_body          bytea NOT NULL,
    received_at       timestamptz NOT NULL DEFAULT now(),
    delivered_at      timestamptz,
    duplicates        integer NOT NULL DEFAULT 0,
    last_duplicate_at timestamptz,
    CHECK ((status = 'unmatched') = (application_id IS NULL))
);

CREATE INDEX account_change_events_undelivered ON account_change_events (received_at)
    WHERE delivered_at IS NULL AND status = 'accepted';
