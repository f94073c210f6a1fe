"""Signed notifications from a simulated system to the platform (API.md "Signed requests").

The body is serialised once and those exact bytes are signed and sent, as the platform
verifies the signature over the raw body. Like a real webhook sender, a notification that
meets a connection error or a 5xx is tried again a few times (the platform deduplicates by
the event's business id); what the platform finally answered is reported to the caller.
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


async def send_signed(url: str, secret: str, payload: dict[str, Any], *, timeout_seconds: float) -> CallbackOutcome:
    body = encode_body(payload)
    outcome = CallbackOutcome()
    async with httpx.AsyncClient(timeout=timeout_seconds) as client:
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
