"""The edge: what every request goes through before a handler sees it (API.md v1.1 "Edges").

- A body over 1 MiB is 413 `payload_too_large`, answered from its Content-Length (a streamed
  one is read up to the limit first), before it is parsed.
- A request to a bearer-key endpoint without credentials is 401 before its body is read.
- `Idempotency-Key` is 1–255 printable ASCII characters, else 422.
- A path id that cannot be an id is 404 `not_found`; a filter that cannot be one is 422.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated

from fastapi import Header
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.problems import Problem, problem_body
from domain.errors import ErrorCode
from domain.inputs import EARLIEST_YEAR, LATEST_YEAR, is_id

MAX_BODY_BYTES = 1024 * 1024
# bodies of these are signed (their signature needs the body) or public: no bearer key
WITHOUT_BEARER = ("/v1/treasury/", "/v1/procurement/", "/v1/supplier/login-codes", "/v1/supplier/sessions")


def _problem_message(status: int, code: ErrorCode, detail: str) -> tuple[Message, Message]:
    body = json.dumps(problem_body(code, detail)).encode()
    start: Message = {
        "type": "http.response.start",
        "status": status,
        "headers": [(b"content-type", b"application/problem+json"), (b"content-length", str(len(body)).encode())],
    }
    return start, {"type": "http.response.body", "body": body}


class Edge:
    """ASGI middleware: size limit and credentials first, before any body is parsed."""

    def __init__(self, app: ASGIApp, max_body: int = MAX_BODY_BYTES) -> None:
        self.app = app
        self.max_body = max_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        length = headers.get(b"content-length")
        if length is not None and (not length.isdigit() or int(length) > self.max_body):
            await self._refuse(
                send, 413, ErrorCode.PAYLOAD_TOO_LARGE, f"a request body is at most {self.max_body} bytes"
            )
            return
        path: str = scope.get("path", "")
        if (
            path.startswith("/v1/")
            and scope.get("method") in ("POST", "PUT", "PATCH")
            and not path.startswith(WITHOUT_BEARER)
            and not _has_bearer(headers.get(b"authorization"))
        ):
            await self._refuse(send, 401, ErrorCode.UNAUTHENTICATED, "a valid bearer key is required")
            return
        if length is None and scope.get("method") in ("POST", "PUT", "PATCH"):
            # a streamed body (no Content-Length): read it up to the limit first, then hand it on
            buffered = await self._read_limited(receive)
            if buffered is None:
                detail = f"a request body is at most {self.max_body} bytes"
                await self._refuse(send, 413, ErrorCode.PAYLOAD_TOO_LARGE, detail)
                return
            receive = _replay(buffered, receive)
        await self.app(scope, receive, send)

    async def _read_limited(self, receive: Receive) -> list[Message] | None:
        messages: list[Message] = []
        seen = 0
        while True:
            message = await receive()
            messages.append(message)
            if message["type"] != "http.request":
                return messages  # the client went away: let the app see it
            seen += len(message.get("body", b""))
            if seen > self.max_body:
                return None
            if not message.get("more_body", False):
                return messages

    async def _refuse(self, send: Send, status: int, code: ErrorCode, detail: str) -> None:
        start, body = _problem_message(status, code, detail)
        await send(start)
        await send(body)


def _replay(messages: list[Message], receive: Receive) -> Receive:
    pending = list(messages)

    async def replay() -> Message:
        if pending:
            return pending.pop(0)
        return await receive()

    return replay


def _has_bearer(header: bytes | None) -> bool:
    if not header:
        return False
    scheme, _, token = header.decode("latin-1").partition(" ")
    return scheme.lower() == "bearer" and bool(token.strip())


def idempotency_key_problem(key: str) -> str | None:
    if not 1 <= len(key) <= 255 or not all(" " <= ch <= "~" for ch in key):
        return "Idempotency-Key is 1–255 printable ASCII characters"
    return None


async def idempotency_key(
    key: Annotated[
        str | None,
        Header(
            alias="Idempotency-Key",
            description="1–255 printable ASCII characters; the same key with the same body returns the first answer",
        ),
    ] = None,
) -> str | None:
    if key is not None:
        problem = idempotency_key_problem(key)
        if problem:
            raise Problem(ErrorCode.VALIDATION_ERROR, problem)
    return key


def require_path_id(value: str, what: str = "application") -> None:
    """A path id that cannot be an id names nothing: 404, never a look-up."""
    if not is_id(value):
        raise Problem(ErrorCode.NOT_FOUND, f"no {what} {value[:64]!r}")


def require_filter_instant(value: datetime | None, name: str) -> None:
    if value is not None and (value.tzinfo is None or not EARLIEST_YEAR <= value.year <= LATEST_YEAR):
        raise Problem(ErrorCode.VALIDATION_ERROR, f"{name} is an instant with its offset, within 2000-2100")


def require_filter_id(value: str | None, name: str) -> None:
    if value is not None and not is_id(value):
        raise Problem(ErrorCode.VALIDATION_ERROR, f"{name} must be an id (1–64 characters, no whitespace or '/')")
