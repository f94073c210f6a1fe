-- Financing requests expire (an addition to API.md v1.1 "Suppliers"): a request still `open` at
-- `expires_at` becomes `expired` and its open offers lapse, so the contract is free again (the
-- partial unique index covers only 'open' and 'accepting'). The API sets `expires_at` when the
-- request is made: the end of the ZCD_FINANCING_REQUEST_OPEN_WORKING_DAYS-th working day (State
-- Council calendar) after that day. A request being accepted never expires.
ALTER TABLE financing_requests ADD COLUMN expires_at timestamptz;

-- Requests made before this migration get created_at + 7 calendar days: the working-day calendar
-- is not in the database, and 7 calendar days is never later than the default of 7 working days,
-- so such a request expires a little early at worst, never later than a new one would.
UPDATE financing_requests SET expires_at = created_at + interval '7 days' WHERE expires_at IS NULL;

ALTER TABLE financing_requests ALTER COLUMN expires_at SET NOT NULL;
ALTER TABLE financing_requests ADD CONSTRAINT financing_requests_expires_after_creation
    CHECK (expires_at > created_at);

ALTER TABLE financing_requests DROP CONSTRAINT financing_requests_status_check;
ALTER TABLE financing_requests ADD CONSTRAINT financing_requests_status_check
    CHECK (status IN ('open', 'accepting', 'accepted', 'cancelled', 'expired'));

-- what the store's expiry looks for before every read or change of requests
CREATE INDEX financing_requests_open_until ON financing_requests (expires_at) WHERE status = 'open';
