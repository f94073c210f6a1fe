-- The event feed (GET /v1/events): what each record of an application showed that the one
-- before did not, stored in the same transaction as the record, so a change is in the feed
-- before any read shows it and exactly once (the record is only ever written forward).
CREATE TABLE events (
    event_id        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    type            text NOT NULL,
    application_id  text NOT NULL,
    contract_no     text NOT NULL,
    bank_code       text NOT NULL REFERENCES banks,
    at              timestamptz NOT NULL,
    data            jsonb NOT NULL,
    recorded_at     timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX events_bank ON events (bank_code, event_id);
CREATE INDEX events_application ON events (application_id, event_id);
