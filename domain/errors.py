"""Stable error codes (API.md) shared by the workflow, the activities and the API.

A business refusal raised inside the workflow or an activity is an
`ApplicationError(message, type=<code>, non_retryable=True)`; the API maps the `type`
straight to the problem+json `code` and status below.
"""

from __future__ import annotations

from enum import StrEnum


class ErrorCode(StrEnum):
    UNAUTHENTICATED = "unauthenticated"
    FORBIDDEN = "forbidden"
    NOT_FOUND = "not_found"
    CONTRACT_NOT_FOUND = "contract_not_found"
    CONTRACT_ALREADY_FINANCED = "contract_already_financed"
    INVALID_STATE = "invalid_state"
    VALIDATION_ERROR = "validation_error"
    IDEMPOTENCY_KEY_MISMATCH = "idempotency_key_mismatch"
    BAD_SIGNATURE = "bad_signature"
    UPSTREAM_UNAVAILABLE = "upstream_unavailable"
    INTERNAL_ERROR = "internal_error"
    PAYLOAD_TOO_LARGE = "payload_too_large"
    TOO_MANY_ATTEMPTS = "too_many_attempts"  # a supplier's sign-in, locked after wrong codes


HTTP_STATUS: dict[ErrorCode, int] = {
    ErrorCode.UNAUTHENTICATED: 401,
    ErrorCode.FORBIDDEN: 403,
    ErrorCode.NOT_FOUND: 404,
    ErrorCode.CONTRACT_NOT_FOUND: 404,
    ErrorCode.CONTRACT_ALREADY_FINANCED: 409,
    ErrorCode.INVALID_STATE: 409,
    ErrorCode.VALIDATION_ERROR: 422,
    ErrorCode.IDEMPOTENCY_KEY_MISMATCH: 422,
    ErrorCode.BAD_SIGNATURE: 401,
    ErrorCode.UPSTREAM_UNAVAILABLE: 503,
    ErrorCode.INTERNAL_ERROR: 500,
    ErrorCode.PAYLOAD_TOO_LARGE: 413,
    ErrorCode.TOO_MANY_ATTEMPTS: 429,
}


class BusinessRefusal(Exception):
    """A refusal with a stable code, raised by pure domain checks."""

    def __init__(self, code: ErrorCode, detail: str) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail
