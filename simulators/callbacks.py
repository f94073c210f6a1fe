"""Signed notifications from a simulated system to the platform (API.md "Signed requests").

The body is serialised once and those exact bytes are signed and sent, as the platform
verifies the signature over the raw body. Like a real webhook sender, a notification that
meets a connection error or a 5xx is tried again a few times (the platform deduplicates by
the event's business id); what the platform finally answered is reported to the caller.

What a simulator sends goes through its one `Outbound` client, as a real system keeps its
connections: a new `httpx.AsyncClient` per call builds a TLS context each time (loading the
CA bundle), which was more than half of the simulators' CPU under `make bench`
(docs/performance.md).
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import httpx
import structlog
from pydantic import BaseModel

from domain.signing import SIGNATURE_HEADER, signature_header

log = structlog.get_logger("simulators.callbacks")

ATTEMPTS = 3
BACKOFF_SECONDS = 0.05


class CallbackOutcome(BaseModel):
    """What the platform answered; `http_status` None means it never answered."""

    http_status: int | None = None
    body: dict[str, Any] | None = None
    error: str | None = None

    @property
    def status(self) -> str | None:
        """The platform's `status` member (accepted, duplicate, …) from a 2xx answer."""
        if self.http_status is None or not 200 <= self.http_status < 300 or self.body is None:
            return None
        value = self.body.get("status")
        return value if isinstance(value, str) else None


def encode_body(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()


class Outbound:
    """A simulator's one HTTP client for what it sends, made on first use in the running event
    loop (a test may run the simulators in a later loop than the one that built them) and
    closed when the simulators stop (`aclose`)."""

    def __init__(self, timeout_seconds: float) -> None:
        self.timeout_seconds = timeout_seconds
        self._client: httpx.AsyncClient | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    @property
    def client(self) -> httpx.AsyncClient:
        loop = asyncio.get_running_loop()
        if self._client is None or self._client.is_closed or self._loop is not loop:
            self._client, self._loop = httpx.AsyncClient(timeout=self.timeout_seconds), loop
        return self._client

    async def aclose(self) -> None:
        if self._client is not None and self._loop is asyncio.get_running_loop():
            await self._client.aclose()
        self._client = self._loop = None


async def send_signed(outbound: Outbound, url: str, secret: str, payload: dict[str, Any]) -> CallbackOutcome:
    body = encode_body(payload)
    outcome = CallbackOutcome()
    client = outbound.client
    for attempt in range(1, ATTEMPTS + 1):
        headers = {
            "Content-Type": "application/json",
            SIGNATURE_HEADER: signature_header(secret, int(time.time()), body),
        }
        try:
            response = await client.post(url, content=body, headers=headers)
        except httpx.HTTPError as exc:
            outcome = CallbackOutcome(error=f"{type(exc).__name__}: {exc}")
        else:
            outcome = CallbackOutcome(http_status=response.status_code, body=_json_object(response))
            if response.status_code < 500:
                break
        log.info("callback.retrying", url=url, attempt=attempt, http_status=outcome.http_status)
        if attempt < ATTEMPTS:
            await asyncio.sleep(BACKOFF_SECONDS * attempt)
    log.info("callback.delivered", url=url, http_status=outcome.http_status, platform_status=outcome.status)
    return outcome


def _json_object(response: httpx.Response) -> dict[str, Any] | None:
    try:
        value = response.json()
    except ValueError:
        return None
    return value if isinstance(value, dict) else None
