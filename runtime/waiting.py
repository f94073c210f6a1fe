"""Parts wait for each other: a worker or API started before Temporal or PostgreSQL answers
keeps trying with capped exponential backoff (each failed attempt logged with its error)
instead of exiting, so the order in which a deployment brings its parts up does not matter."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable, Iterator
from typing import TypeVar

import structlog

T = TypeVar("T")

log = structlog.get_logger("zcd.waiting")

FIRST_DELAY_SECONDS = 0.5
MAX_DELAY_SECONDS = 8.0

# Errors that no amount of waiting fixes: a malformed address or URL is a configuration
# mistake, and retrying it forever would hide it behind a wall of log lines.
_FATAL: tuple[type[BaseException], ...] = (ValueError, TypeError)


def backoff_delays(
    first: float = FIRST_DELAY_SECONDS, cap: float = MAX_DELAY_SECONDS, factor: float = 2.0
) -> Iterator[float]:
    """first, first×factor, … up to `cap`, then `cap` for ever."""
    delay = first
    while True:
        yield min(delay, cap)
        delay = min(delay * factor, cap)


def jittered(delay: float, rng: random.Random | None = None) -> float:
    """The delay spread over [0.8, 1.0]×delay, so replicas restarted together do not knock
    on the server in lock-step."""
    return delay * (0.8 + 0.2 * (rng or random).random())


def describe(error: BaseException) -> str:
    """The error for the log line: its type and first line. Connection errors name hosts and
    ports, not credentials (asyncpg never puts the password in its messages)."""
    text = str(error).strip().splitlines()[0] if str(error).strip() else ""
    return f"{type(error).__name__}: {text[:300]}" if text else type(error).__name__


async def keep_trying(
    upstream: str,
    attempt: Callable[[], Awaitable[T]],
    *,
    first_delay: float = FIRST_DELAY_SECONDS,
    max_delay: float = MAX_DELAY_SECONDS,
) -> T:
    """`await attempt()` until it succeeds; cancel the caller to give up."""
    delays = backoff_delays(first_delay, max_delay)
    number = 0
    while True:
        number += 1
        try:
            result = await attempt()
        except _FATAL:
            raise
        except Exception as error:
            delay = jittered(next(delays))
            log.warning(
                "upstream_unavailable",
                upstream=upstream,
                attempt=number,
                error=describe(error),
                retry_in_seconds=round(delay, 2),
            )
            await asyncio.sleep(delay)
            continue
        if number > 1:
            log.info("upstream_connected", upstream=upstream, attempts=number)
        return result
