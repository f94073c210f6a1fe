"""How an external system's answer becomes a Temporal outcome.

A business refusal (the contract does not exist, another financing holds it, …) cannot be
fixed by retrying: it becomes a non-retryable `ApplicationError` whose `type` is the stable
error code the workflow and the API understand. Anything else (5xx, timeouts, connection
errors) propagates and the activity's retry policy tries again.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from temporalio.exceptions import ApplicationError

from integrations.errors import ExternalRefusal


@contextmanager
def refusals_are_final() -> Iterator[None]:
    try:
        yield
    except ExternalRefusal as refusal:
        raise ApplicationError(refusal.detail, type=refusal.code, non_retryable=True) from refusal
