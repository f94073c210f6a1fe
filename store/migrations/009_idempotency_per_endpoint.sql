-- Idempotency keys on every change a bank makes (decision, withdraw, repayments, write-off),
-- scoped to the bank and the endpoint: the stored key is "<endpoint>:<application_id>:<key>",
-- longer than a key alone (a key itself stays 1-255 printable ASCII, checked at the edge).
ALTER TABLE idempotency_keys DROP CONSTRAINT idempotency_keys_idempotency_key_check;
ALTER TABLE idempotency_keys ADD CONSTRAINT idempotency_keys_idempotency_key_length
    CHECK (length(idempotency_key) BETWEEN 1 AND 400);
