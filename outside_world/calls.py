"""One request as a client of the platform makes it: an expected status, or a finding in words;
no answer at all is `Unanswered` (it may or may not have acted), and a `Retry` sends the very
same request again — the same Idempotency-Key, the same body — as a real client does."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from typing import Any

import httpx


class Unanswered(Exception):
    """A request that got no answer (timeout, connection lost): it may or may not have acted."""


class Unexpected(Exception):
    """An answer with another status than the one the step needs."""

    def __init__(self, what: str, response: httpx.Response) -> None:
        self.response = response
        super().__init__(f"{what} answered {response.status_code}: {response.text[:400]}")

    @property
    def status_code(self) -> int:
        return self.response.status_code

    @property
    def code(self) -> str | None:
        """The problem's stable `code` (API.md "Conventions"), when the answer is one."""
        try:
            body = self.response.json()
        except ValueError:
            return None
        return body.get("code") if isinstance(body, dict) else None


def server_error(status: int) -> bool:
    return status >= 500


def backoff(attempt: int) -> float:
    """Seconds before attempt `attempt + 1`: 0.5, 1, 2, 4, 4, …"""
    return float(min(4.0, 0.5 * 2 ** (attempt - 1)))


@dataclass(frozen=True)
class Retry:
    """How a client tries again: on no answer and on `retry_on(status)`, at most `attempts`
    times in all and, with `within`, not past that many seconds; `pause(attempt)` between."""

    attempts: int | None = 3
    within: float | None = None
    retry_on: Callable[[int], bool] = server_error
    pause: Callable[[int], float] = backoff


ONCE = Retry(attempts=1)


@dataclass
class Attempts:
    """What each attempt that was tried again got (for a client that judges replays)."""

    tried: list[str] = field(default_factory=list)


async def send(
    http: httpx.AsyncClient,
    method: str,
    url: str,
    *,
    json: Any = None,
    content: bytes | None = None,
    headers: dict[str, str] | None = None,
    params: dict[str, Any] | None = None,
    retry: Retry = ONCE,
    sign: Callable[[], dict[str, str]] | None = None,
    attempts: Attempts | None = None,
) -> httpx.Response:
    """The first answer that is neither missing nor retryable under `retry`; the last one when
    the attempts are spent (or `Unanswered` if it got none). `sign` is called per attempt
    (a signed notice carries the time it was sent)."""
    deadline = time.monotonic() + retry.within if retry.within is not None else None
    attempt = 0
    while True:
        attempt += 1
        sent_headers = {**(headers or {}), **(sign() if sign else {})}
        response: httpx.Response | None = None
        try:
            response = await http.request(method, url, json=json, content=content, headers=sent_headers, params=params)
        except httpx.TransportError as error:
            last = f"no answer ({type(error).__name__})"
            problem: Exception = Unanswered(f"{method} {url}: no answer ({error!r})")
        else:
            if not retry.retry_on(response.status_code):
                return response
            last = f"{response.status_code} {response.text[:200]}"
        spent = retry.attempts is not None and attempt >= retry.attempts
        late = deadline is not None and time.monotonic() > deadline
        if spent or late:
            if response is not None:
                return response
            raise problem
        if attempts is not None:
            attempts.tried.append(last)
        await asyncio.sleep(retry.pause(attempt))


def expect(response: httpx.Response, status: int | Collection[int], what: str) -> Any:
    """The answer's JSON when its status is `status` (one or several); else `Unexpected`."""
    wanted = {status} if isinstance(status, int) else set(status)
    if response.status_code not in wanted:
        raise Unexpected(what, response)
    return response.json()
