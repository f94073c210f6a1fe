"""What can go wrong when the platform calls an external system, in the two kinds its callers
must tell apart:

- `ExternalRefusal`: the system understood and said no (a 4xx such as an unknown contract or a
  contract another financing holds). Retrying cannot change the answer; activities turn it into
  a non-retryable failure whose type is `code`.
- `ExternalUnavailable`: no usable answer (5xx, 408/429, timeouts, connection errors, a garbled
  body). The operation may or may not have happened; the caller retries with the same
  idempotency key, which makes that safe.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


class ExternalError(Exception):
    """Base of every failure of a call to the procurement, bank or treasury system."""


class ExternalRefusal(ExternalError):
    """A business refusal. `code` is the system's stable code (e.g. "contract_not_found",
    "contract_already_financed", "invalid_state"); `extra` holds any further members of the
    answer (e.g. the `holder` of a contract)."""

    def __init__(
        self, code: str, detail: str, status: int, system: str | None = None, extra: Mapping[str, Any] | None = None
    ) -> None:
        super().__init__(code, detail, status, system, extra)
        self.code = code
        self.detail = detail
        self.status = status
        self.system = system
        self.extra: Mapping[str, Any] = extra or {}

    def __str__(self) -> str:
        return f"{self.system or 'external system'} refused ({self.status} {self.code}): {self.detail}"


class ExternalUnavailable(ExternalError):
    """No usable answer; `status` is the HTTP status when there was one."""

    def __init__(self, detail: str, status: int | None = None, system: str | None = None) -> None:
        super().__init__(detail, status, system)
        self.detail = detail
        self.status = status
        self.system = system

    def __str__(self) -> str:
        # What ops read in the Temporal UI on a retrying activity: which system, what failed,
        # and that retrying is safe (every call carries an idempotency key).
        where = f"the {self.system} system" if self.system else "an external system"
        status = f" (HTTP {self.status})" if self.status else ""
        return (
            f"{where} is unavailable{status}: {self.detail}. Retried automatically with the same "
            "idempotency key, so nothing happens twice; if it persists, check that system."
        )
