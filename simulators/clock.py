"""The simulators' clock: wall time in Asia/Shanghai, where the simulated systems live."""

from __future__ import annotations

from datetime import UTC, date, datetime

from domain.application import SHANGHAI, business_date


def now() -> datetime:
    return datetime.now(SHANGHAI)


def today() -> date:
    return business_date(datetime.now(UTC))
