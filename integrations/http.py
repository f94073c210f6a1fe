"""The plumbing every client to an external system shares: one `httpx.AsyncClient` (owned or
lent), the `Idempotency-Key` header on every mutating call, money and dates as JSON strings,
and the translation of answers into results, `ExternalRefusal` or `ExternalUnavailable`."""

from __future__ import annotations

from typing import Any, Self, TypeVar
from urllib.parse import quote

import httpx
import structlog
from pydantic import BaseModel, ValidationError

from integrations.errors import ExternalRefusal, ExternalUnavailable

log = structlog.get_logger("integrations")

M = TypeVar("M", bound=BaseModel)

IDEMPOTENCY_HEADER = "Idempotency-Key"
DEFAULT_TIMEOUT_SECONDS = 10.0
# Answers that say "not now" rather than "no": the caller may retry them.
RETRYABLE_STATUSES = frozenset({408, 425, 429})
_DEFAULT_CODES = {
    400: "validation_error",
    401: "unauthenticated",
    403: "forbidden",
    404: "not_found",
    409: "invalid_state",
    422: "validation_error",
}


def segment(value: str) -> str:
    """A value as one URL path segment (contract numbers may hold any character). Dots are
    encoded too: a literal "." or ".." segment is removed by URL normalisation (httpx does it),
    so "/contracts/.." would reach the other system as "/" instead of as that contract."""
    return quote(value, safe="").replace(".", "%2E")


def wire(model: BaseModel) -> dict[str, Any]:
    """The JSON body of a client's wire model: money as 2-place strings, dates ISO."""
    return model.model_dump(mode="json")


def outgoing(model: type[M], source: BaseModel, **more: Any) -> M:
    """A client's wire model filled from the platform's own (a step's input): only the fields
    the wire model declares leave the platform."""
    return model.model_validate({**source.model_dump(), **more})


class ServiceClient:
    """Base of the typed clients. Give it a base URL and, optionally, a shared
    `httpx.AsyncClient` (which it then does not close)."""

    system = "external system"

    def __init__(
        self, base_url: str, http: httpx.AsyncClient | None = None, *, timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._timeout_seconds = timeout_seconds
        self._timeout = httpx.Timeout(timeout_seconds)
        self._owns_http = http is None
        self._http = http if http is not None else httpx.AsyncClient(timeout=self._timeout)

    async def aclose(self) -> None:
        if self._owns_http:
            await self._http.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.aclose()

    async def get(self, path: str, *, params: dict[str, str] | None = None) -> Any:
        response = await self._send("GET", path, params=params)
        return self._json(response)

    async def get_optional(self, path: str, *, absent_code: str = "not_found") -> Any | None:
        """GET that reads a 404 with `absent_code` as "there is none" (None), not a refusal."""
        try:
            return await self.get(path)
        except ExternalRefusal as refusal:
            if refusal.status == 404 and refusal.code == absent_code:
                return None
            raise

    async def post(self, path: str, body: dict[str, Any], key: str) -> Any:
        if not key:
            raise ValueError("every mutating call needs an idempotency key")
        response = await self._send("POST", path, json_body=body, headers={IDEMPOTENCY_HEADER: key})
        return self._json(response)

    def parse(self, model: type[M], data: Any) -> M:
        try:
            return model.model_validate(data)
        except ValidationError as exc:
            raise ExternalUnavailable(f"malformed answer ({exc.error_count()} problems)", system=self.system) from exc

    async def _send(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, str] | None = None,
        json_body: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        url = self.base_url + path
        try:
            response = await self._http.request(
                method, url, params=params, json=json_body, headers=headers, timeout=self._timeout
            )
        except httpx.TimeoutException as exc:
            log.warning("external.timeout", system=self.system, method=method, path=path)
            raise ExternalUnavailable(
                f"{method} {path} timed out after {self._timeout_seconds:g} s", system=self.system
            ) from exc
        except httpx.TransportError as exc:
            log.warning("external.unreachable", system=self.system, method=method, path=path)
            raise ExternalUnavailable(
                f"{method} {path}: unreachable at {self.base_url} ({type(exc).__name__})", system=self.system
            ) from exc
        status = response.status_code
        if status < 400:
            return response
        if status >= 500 or status in RETRYABLE_STATUSES:
            log.warning("external.unavailable", system=self.system, method=method, path=path, status=status)
            raise ExternalUnavailable(f"{method} {path}: {_problem(response)[1]}", status=status, system=self.system)
        code, detail, extra = _problem(response)
        log.info("external.refused", system=self.system, method=method, path=path, status=status, code=code)
        raise ExternalRefusal(code, detail, status, system=self.system, extra=extra)

    def _json(self, response: httpx.Response) -> Any:
        try:
            return response.json()
        except ValueError as exc:
            raise ExternalUnavailable("the answer is not JSON", response.status_code, self.system) from exc


def _problem(response: httpx.Response) -> tuple[str, str, dict[str, Any]]:
    """(code, detail, other members) of an error answer, problem+json or not."""
    default_code = _DEFAULT_CODES.get(response.status_code, "refused" if response.status_code < 500 else "unavailable")
    try:
        body = response.json()
    except ValueError:
        return default_code, response.text[:500] or response.reason_phrase, {}
    if not isinstance(body, dict):
        return default_code, str(body)[:500], {}
    code = body.get("code")
    detail = body.get("detail")
    extra = {k: v for k, v in body.items() if k not in {"type", "title", "status", "code", "detail"}}
    return (
        code if isinstance(code, str) and code else default_code,
        detail if isinstance(detail, str) and detail else response.reason_phrase,
        extra,
    )
