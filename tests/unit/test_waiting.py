"""keep_trying: capped exponential backoff, every failed attempt logged with its error, and
configuration mistakes not retried."""

from __future__ import annotations

import itertools
import random

import pytest
from structlog.testing import capture_logs

from runtime.waiting import backoff_delays, describe, jittered, keep_trying


def test_delays_double_up_to_the_cap() -> None:
    assert list(itertools.islice(backoff_delays(0.5, 8.0), 7)) == [0.5, 1.0, 2.0, 4.0, 8.0, 8.0, 8.0]


def test_jitter_stays_within_a_fifth_below() -> None:
    rng = random.Random(7)
    spread = [jittered(8.0, rng) for _ in range(200)]
    assert all(6.4 <= d <= 8.0 for d in spread) and len(set(spread)) > 100


async def test_it_retries_until_it_succeeds_and_logs_each_failure() -> None:
    failures: list[Exception] = [
        ConnectionRefusedError(111, "Connection refused"),
        RuntimeError("Failed client connect"),
    ]

    async def attempt() -> str:
        if failures:
            raise failures.pop(0)
        return "up"

    with capture_logs() as logs:
        assert await keep_trying("temporal", attempt, first_delay=0.001, max_delay=0.002) == "up"
    logged = [e for e in logs if e["event"] == "upstream_unavailable"]
    assert [(e["upstream"], e["attempt"]) for e in logged] == [("temporal", 1), ("temporal", 2)]
    assert logged[0]["error"] == "ConnectionRefusedError: [Errno 111] Connection refused"
    assert logged[1]["error"] == "RuntimeError: Failed client connect"
    assert [e["attempts"] for e in logs if e["event"] == "upstream_connected"] == [3]


async def test_a_configuration_mistake_is_not_retried() -> None:
    calls = 0

    async def attempt() -> None:
        nonlocal calls
        calls += 1
        raise ValueError("invalid DSN")

    with pytest.raises(ValueError):
        await keep_trying("postgresql", attempt, first_delay=0.001)
    assert calls == 1


def test_the_error_is_one_line() -> None:
    assert describe(RuntimeError("first\nsecond")) == "RuntimeError: first"
    assert describe(TimeoutError()) == "TimeoutError"
