"""What every request leaves behind: its id (`X-Request-Id`, given or made), its metrics, its
log line, and — for an authenticated read — its audit row, written before the answer leaves
(a read without its audit row is not answered: the caller gets the catch-all's problem
instead). Writes are audited by their handlers. An exception no handler took answers through
`problems.unexpected`, so no request ends as a bare 500 or a dropped connection.

A plain ASGI middleware: Starlette's `BaseHTTPMiddleware` (`@app.middleware("http")`) ran each
request's app in a task of its own and streamed its answer through a memory channel, a share of
the API's CPU under `make bench` (docs/performance.md). The answer's start is held here until
the audit row is written, so a failed audit still replaces it before any byte is sent.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

import structlog
from fastapi import Request
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api import problems
from api.audit import record
from api.metrics import LATENCY, REQUESTS
from domain.inputs import is_id

log = structlog.get_logger("api")

REQUEST_ID = "X-Request-Id"


class Observe:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        request_id = request.headers.get("x-request-id") or uuid.uuid4().hex
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(request_id=request_id)
        started = time.perf_counter()
        answer = _Answer(request, request_id, started, send)
        try:
            await self.app(scope, receive, answer.send)
        except Exception as error:
            if answer.dropped:
                return  # the app's answer was replaced and the replacement sent whole
            if answer.started:
                raise  # part of the answer is on its way: nothing can replace it now
            await answer.replace(problems.unexpected(request, error))
        if not answer.started:  # the app ended without answering
            await answer.replace(problems.unexpected(request, RuntimeError("no answer from the app")))


class _Answer:
    """The `send` the app is given: the answer's start passes through `_begin` first."""

    def __init__(self, request: Request, request_id: str, started: float, send: Send) -> None:
        self.request = request
        self.request_id = request_id
        self.started_at = started
        self._send = send
        self.started = False
        self.dropped = False  # the app's own answer was replaced: its body is not sent

    async def send(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            message = await self._begin(message)
            if self.dropped:
                return
        elif self.dropped and message["type"] == "http.response.body":
            return
        await self._send(message)

    async def replace(self, response: Any) -> None:
        await response(self.request.scope, _nothing, self.send)

    async def _begin(self, message: Message) -> Message:
        """Count, audit and log the answer that starts with `message`; a read whose audit row
        cannot be written is answered with the catch-all's problem instead."""
        self.started = True
        request, status = self.request, int(message["status"])
        route = request.scope.get("route")
        path = getattr(route, "path", "unmatched")
        elapsed = time.perf_counter() - self.started_at
        REQUESTS.labels(request.method, path, str(status)).inc()
        LATENCY.labels(request.method, path).observe(elapsed)
        state = request.scope.get("state") or {}
        principal = state.get("principal")
        if principal is not None and request.method == "GET" and state.get("audit_read", True):
            # reads are authenticated actions too (a read that disclosed nothing may opt out)
            params = request.scope.get("path_params") or {}
            read_id = params.get("application_id")
            try:
                await record(
                    request.app.state.zcd,
                    principal.name,
                    f"read {path}",
                    read_id if isinstance(read_id, str) and is_id(read_id) else None,  # a junk id names nothing
                    status=status,
                )
            except Exception as error:
                self.dropped = True
                status = await self._answer_instead(problems.unexpected(request, error))
        log.info(
            "request",
            method=request.method,
            route=path,
            status=status,
            ms=round(elapsed * 1000, 1),
            principal=principal.name if principal is not None else None,
        )
        if not self.dropped:
            MutableHeaders(scope=message)[REQUEST_ID] = self.request_id
        return message

    async def _answer_instead(self, response: Any) -> int:
        """Send `response` in place of the app's answer; its status."""
        status = 0

        async def send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                MutableHeaders(scope=message)[REQUEST_ID] = self.request_id
            await self._send(message)

        await response(self.request.scope, _nothing, send)
        return status


async def _nothing() -> Message:
    return {"type": "http.disconnect"}
