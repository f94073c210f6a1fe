"""Timeouts and retry policies of the financing's steps, in one place."""

from __future__ import annotations

from datetime import timedelta

from temporalio.common import RetryPolicy

# Calls to the external systems: idempotent, so retried with backoff for as long as it takes
# (a bank that is down for an hour delays a loan, it does not fail it). Business refusals are
# raised non-retryable by the activities and end the step at once.
EXTERNAL_CALL = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(minutes=1),
)
EXTERNAL_TIMEOUT = timedelta(seconds=30)
# The payout heartbeats while the bank answers (activities/heartbeat.py).
PAYOUT_HEARTBEAT = timedelta(seconds=5)

# Verification answers a waiting bank: retry briefly, then give a clear refusal.
VERIFY_RETRY = RetryPolicy(initial_interval=timedelta(milliseconds=200), maximum_interval=timedelta(seconds=2))
VERIFY_ATTEMPT = timedelta(seconds=10)
VERIFY_DEADLINE = timedelta(seconds=30)

# The workflow's own record in PostgreSQL: a local activity, retried until the database answers
# (readers must see every transition; a versioned upsert makes each retry harmless).
RECORD_RETRY = RetryPolicy(initial_interval=timedelta(milliseconds=200), maximum_interval=timedelta(seconds=10))
RECORD_TIMEOUT = timedelta(seconds=10)
