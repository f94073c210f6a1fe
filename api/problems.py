"""RFC 9457 problem answers (API.md "Conventions"): every error the API gives, including
FastAPI's own (validation, unknown routes, wrong methods) and unhandled exceptions, is
`application/problem+json` with `type`, `title`, `status`, `detail` and a stable `code`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException
from temporalio.service import RPCError, RPCStatusCode

from domain.errors import HTTP_STATUS, ErrorCode

PROBLEM_MEDIA_TYPE = "application/problem+json"

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


def problem_response(
    code: ErrorCode,
    detail: str,
    *,
    errors: list[dict[str, Any]] | None = None,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
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
    if exc.status in (RPCStatusCode.UNAVAILABLE, RPCStatusCode.DEADLINE_EXCEEDED):
        log.warning("temporal_unavailable", path=request.url.path, status=exc.status.name)
        return problem_response(ErrorCode.UPSTREAM_UNAVAILABLE, "the workflow service is unavailable; retry later")
    return await _on_unhandled(request, exc)


async def _on_unhandled(request: Request, exc: Exception) -> JSONResponse:
    log.error("unhandled_exception", path=request.url.path, method=request.method, error=type(exc).__name__)
    return problem_response(ErrorCode.INTERNAL_ERROR, "an unexpected error occurred; it has been logged")


def install(app: FastAPI) -> None:
    app.add_exception_handler(Problem, _on_problem)
    app.add_exception_handler(RequestValidationError, _on_validation)
    app.add_exception_handler(StarletteHTTPException, _on_http)
    app.add_exception_handler(RPCError, _on_rpc)
    app.add_exception_handler(Exception, _on_unhandled)
