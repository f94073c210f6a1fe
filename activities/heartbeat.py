"""Heartbeats while a long call is in flight: a worker that dies mid-call is noticed after the
heartbeat timeout (seconds), not the whole start-to-close timeout, and the call is retried —
with the same idempotency key, so nothing happens twice."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator

from temporalio import activity

INTERVAL_SECONDS = 1.0


@contextlib.contextmanager
def heartbeating(interval: float = INTERVAL_SECONDS) -> Iterator[None]:
    async def beat() -> None:
        while True:
            activity.heartbeat()
            await asyncio.sleep(interval)

    task = asyncio.ensure_future(beat())
    try:
        yield
    finally:
        task.cancel()
