"""Error answers of the simulated systems, shaped like the platform's own (RFC 9457 with a
stable `code`), so a client can tell a refusal it must accept from a fault it may retry.

Codes used by the simulators: `contract_not_found` (404), `not_found` (404),
`contract_already_financed` (409, with a `holder` member), `invalid_state` (409),
`validation_error` (422), `idempotency_key_mismatch` (422), `unavailable` (503).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

PROBLEM_JSON = "application/problem+json"

_TITLES = {
    400: "Bad Request",
    404: "Not Found",
    409: "Conflict",
    422: "Unprocessable Content",
    502: "Bad Gateway",
    503: "Service Unavailable",
}


class SimulatorError(Exception):
    """A refusal (or fault) the simulated system answers with; `extra` adds JSON members."""

    def __init__(self, status: int, code: str, detail: str, extra: dict[str, Any] | None = None) -> None:
        super().__init__(status, code, detail, extra)
        self.status = status
        self.code = code
        self.detail = detail
        self.extra = extra or {}


def problem_response(
    status: int, code: str, detail: str, extra: dict[str, Any] | None = None, headers: dict[str, str] | None = None
) -> JSONResponse:
    body: dict[str, Any] = {
        "type": "about:blank",
        "title": _TITLES.get(status, "Error"),
        "status": status,
        "code": code,
        "detail": detail,
        **(extra or {}),
    }
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def not_found(what: str) -> SimulatorError:
    return SimulatorError(404, "not_found", f"{what} not found")


def contract_not_found(contract_no: str) -> SimulatorError:
    return SimulatorError(404, "contract_not_found", f"no contract {contract_no}")


def invalid_state(detail: str, extra: dict[str, Any] | None = None) -> SimulatorError:
    return SimulatorError(409, "invalid_state", detail, extra)


def validation_error(detail: str) -> SimulatorError:
    return SimulatorError(422, "validation_error", detail)


def _field(loc: Sequence[str]) -> str:
    """ "body.amount" reads as "amount"; a header stays "header.idempotency-key"."""
    if loc and loc[0] == "body" and len(loc) > 1:
        return ".".join(loc[1:])
    return ".".join(loc) or "request"


def install_problem_handlers(app: FastAPI) -> None:
    """Every refusal leaves the simulator as problem+json with a `code`, including FastAPI's
    own request validation (malformed JSON, wrong types, missing headers)."""

    async def on_simulator_error(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, SimulatorError)
        return problem_response(exc.status, exc.code, exc.detail, exc.extra)

    async def on_validation_error(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        errors = [
            {"loc": [str(part) for part in error.get("loc", ())], "msg": str(error.get("msg", ""))}
            for error in exc.errors()
        ]
        detail = "; ".join(f"{_field(e['loc'])}: {e['msg']}" for e in errors) or "invalid request"
        return problem_response(422, "validation_error", detail, {"errors": errors})

    app.add_exception_handler(SimulatorError, on_simulator_error)
    app.add_exception_handler(RequestValidationError, on_validation_error)
