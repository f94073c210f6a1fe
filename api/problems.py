"""RFC 9457 problem answers (API.md "Conventions"): every error the API gives, including
FastAPI's own (validation, unknown routes, wrong methods) and unhandled exceptions, is
`application/problem+json` with `type`, `title`, `status`, `detail` and a stable `code`."""

from __future__ import annotations

import traceback
from collections.abc import Mapping
from typing import Any

import asyncpg
import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException
from temporalio.client import RPCTimeoutOrCancelledError
from temporalio.service import RPCError, RPCStatusCode

from domain.errors import HTTP_STATUS, ErrorCode

PROBLEM_MEDIA_TYPE = "application/problem+json"

# API.md v1.1: every 503 upstream_unavailable says when to come back. Temporal and PostgreSQL
# restarts take seconds, and the parts reconnect with a backoff capped at about that.
RETRY_AFTER_SECONDS = 5

log = structlog.get_logger(__name__)

_TITLES: dict[ErrorCode, str] = {
    ErrorCode.UNAUTHENTICATED: "Unauthenticated",
    ErrorCode.FORBIDDEN: "Forbidden",
    ErrorCode.NOT_FOUND: "Not found",
    ErrorCode.CONTRACT_NOT_FOUND: "Contract not found",
    ErrorCode.CONTRACT_ALREADY_FINANCED: "Contract already financed",
    ErrorCode.INVALID_STATE: "Invalid state",
    ErrorCode.VALIDATION_ERROR: "Validation error",
    ErrorCode.IDEMPOTENCY_KEY_MISMATCH: "Idempotency key mismatch",
    ErrorCode.BAD_SIGNATURE: "Bad signature",
    ErrorCode.UPSTREAM_UNAVAILABLE: "Upstream unavailable",
    ErrorCode.INTERNAL_ERROR: "Internal error",
    ErrorCode.PAYLOAD_TOO_LARGE: "Payload too large",
    ErrorCode.TOO_MANY_ATTEMPTS: "Too many attempts",
}


class ProblemDetails(BaseModel):
    """RFC 9457 problem details with the stable `code` of API.md."""

    type: str
    title: str
    status: int
    detail: str
    code: str
    errors: list[dict[str, Any]] | None = None


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` declaring the problem answers a route may give."""
    return {
        status: {
            "description": "a problem (RFC 9457)",
            "content": {PROBLEM_MEDIA_TYPE: {"schema": ProblemDetails.model_json_schema()}},
        }
        for status in statuses
    }


class Problem(Exception):
    """Raise anywhere in a handler to answer with a problem."""

    def __init__(
        self,
        code: ErrorCode,
        detail: str,
        *,
        errors: list[dict[str, Any]] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail
        self.errors = errors
        self.headers = headers


def problem_body(code: ErrorCode, detail: str, errors: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "type": f"https://zcd.example/problems/{code.value}",
        "title": _TITLES.get(code, code.value),
        "status": HTTP_STATUS[code],
        "detail": detail,
        "code": code.value,
    }
    if errors:
        body["errors"] = errors
    return body


def with_retry_after(code: ErrorCode, headers: Mapping[str, str] | None) -> Mapping[str, str] | None:
    """The headers, with `Retry-After` added to a 503 that does not carry one already."""
    if code != ErrorCode.UPSTREAM_UNAVAILABLE:
        return headers
    if headers is not None and any(name.lower() == "retry-after" for name in headers):
        return headers
    return {**(headers or {}), "Retry-After": str(RETRY_AFTER_SECONDS)}


def upstream_unavailable(detail: str) -> Problem:
    return Problem(ErrorCode.UPSTREAM_UNAVAILABLE, detail, headers={"Retry-After": str(RETRY_AFTER_SECONDS)})


def rpc_problem(error: RPCError, operation: str, **context: str | None) -> Problem:
    """A Temporal RPC error as the caller sees it: NOT_FOUND is 404 `not_found`; every other
    status (UNAVAILABLE, DEADLINE_EXCEEDED, RESOURCE_EXHAUSTED, …) means the workflow service
    could not serve the request now: 503 with Retry-After. Logged here, with the status name,
    because callers that keep going (a notice recorded, to be redelivered) log only the type."""
    log.warning("temporal_rpc_failed", operation=operation, status=error.status.name, **context)
    if error.status == RPCStatusCode.NOT_FOUND:
        return Problem(ErrorCode.NOT_FOUND, "no such resource")
    return upstream_unavailable(f"the workflow service did not answer ({error.status.name}); retry later")


def problem_response(
    code: ErrorCode,
    detail: str,
    *,
    errors: list[dict[str, Any]] | None = None,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    headers = with_retry_after(code, headers)
    return JSONResponse(
        problem_body(code, detail, errors),
        status_code=HTTP_STATUS[code],
        media_type=PROBLEM_MEDIA_TYPE,
        headers=headers,
    )


def code_of(error_type: str | None) -> ErrorCode:
    """The problem code for an ApplicationError type from the workflow (unknown: internal)."""
    try:
        return ErrorCode(error_type or "")
    except ValueError:
        return ErrorCode.INTERNAL_ERROR


def _json_safe_errors(errors: Any) -> list[dict[str, Any]]:
    safe: list[dict[str, Any]] = []
    for error in errors:
        safe.append(
            {
                "loc": [str(part) for part in error.get("loc", ())],
                "msg": str(error.get("msg", "")),
                "type": str(error.get("type", "")),
            }
        )
    return safe


_STATUS_CODES: dict[int, ErrorCode] = {
    401: ErrorCode.UNAUTHENTICATED,
    403: ErrorCode.FORBIDDEN,
    404: ErrorCode.NOT_FOUND,
    409: ErrorCode.INVALID_STATE,
    422: ErrorCode.VALIDATION_ERROR,
    400: ErrorCode.VALIDATION_ERROR,
}


async def _on_problem(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, Problem)
    return problem_response(exc.code, exc.detail, errors=exc.errors, headers=exc.headers)


async def _on_validation(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = _json_safe_errors(exc.errors())
    if any(e["type"] == "json_invalid" for e in errors):
        detail = "the request body is not valid JSON"
    else:
        detail = "; ".join(f"{'.'.join(e['loc'])}: {e['msg']}" for e in errors) or "invalid request"
    return problem_response(ErrorCode.VALIDATION_ERROR, detail, errors=errors)


async def _on_http(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    if exc.status_code == 405:
        body = {
            "type": "https://zcd.example/problems/method_not_allowed",
            "title": "Method not allowed",
            "status": 405,
            "detail": f"{request.method} is not allowed on {request.url.path}",
            "code": "method_not_allowed",
        }
        return JSONResponse(body, status_code=405, media_type=PROBLEM_MEDIA_TYPE, headers=exc.headers)
    code = _STATUS_CODES.get(exc.status_code)
    if code is None:
        body = {
            "type": "about:blank",
            "title": str(exc.detail),
            "status": exc.status_code,
            "detail": str(exc.detail),
            "code": "http_error",
        }
        return JSONResponse(body, status_code=exc.status_code, media_type=PROBLEM_MEDIA_TYPE, headers=exc.headers)
    detail = "no such resource" if exc.status_code == 404 else str(exc.detail)
    return problem_response(code, detail, headers=exc.headers)


async def _on_rpc(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RPCError)
    problem = rpc_problem(exc, "request", path=request.url.path)
    return problem_response(problem.code, problem.detail, headers=problem.headers)


# The database connection went away (PostgreSQL restarting, the network) — not a bug of ours:
# the pool reconnects on the next acquire, so the caller may simply retry.
_DATABASE_UNAVAILABLE: tuple[type[BaseException], ...] = (
    OSError,  # refused, reset, unreachable; TimeoutError too
    asyncpg.PostgresConnectionError,  # SQLSTATE class 08, and a connection that was closed
    asyncpg.exceptions.OperatorInterventionError,  # 57: admin shutdown, cannot connect now
)


def _where(exc: BaseException) -> str:
    """file:line of the innermost frame: enough to find the bug, with no values in it (an
    exception's message may quote data, e.g. an account number in a constraint violation)."""
    frames = traceback.extract_tb(exc.__traceback__)
    if not frames:
        return "unknown"
    last = frames[-1]
    return f"{last.filename.rsplit('/', 1)[-1]}:{last.lineno} {last.name}"


def unexpected(request: Request, exc: Exception) -> JSONResponse:
    """The catch-all: whatever escaped every other handler still answers problem+json and
    leaves a log line. Outages of Temporal or PostgreSQL are 503s the client can retry."""
    if isinstance(exc, RPCError):
        problem = rpc_problem(exc, "request", path=request.url.path)
        return problem_response(problem.code, problem.detail, headers=problem.headers)
    if isinstance(exc, RPCTimeoutOrCancelledError):
        log.warning("temporal_rpc_timed_out", path=request.url.path, error=type(exc).__name__)
        return problem_response(ErrorCode.UPSTREAM_UNAVAILABLE, "the workflow service did not answer in time")
    if isinstance(exc, _DATABASE_UNAVAILABLE):
        log.warning("database_unavailable", path=request.url.path, error=type(exc).__name__, where=_where(exc))
        return problem_response(ErrorCode.UPSTREAM_UNAVAILABLE, "the platform database is unavailable; retry later")
    log.error(
        "unhandled_exception", path=request.url.path, method=request.method, error=type(exc).__name__, where=_where(exc)
    )
    return problem_response(ErrorCode.INTERNAL_ERROR, "an unexpected error occurred; it has been logged")


async def _on_unhandled(request: Request, exc: Exception) -> JSONResponse:
    return unexpected(request, exc)


def install(app: FastAPI) -> None:
    """The handlers; `unexpected` also backs the middleware around every route (api/observe.py), so
    an exception raised outside a route (a middleware, a dependency's cleanup) is covered too."""
    app.add_exception_handler(Problem, _on_problem)
    app.add_exception_handler(RequestValidationError, _on_validation)
    app.add_exception_handler(StarletteHTTPException, _on_http)
    app.add_exception_handler(RPCError, _on_rpc)
    app.add_exception_handler(Exception, _on_unhandled)
