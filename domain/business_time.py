"""Business time: dates and instants as people in Wuxi read them (API.md: business dates use
Asia/Shanghai)."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from typing import Annotated

from pydantic import PlainSerializer

# China keeps no daylight saving, so a fixed offset is exact and needs no tz database inside
# the workflow sandbox.
SHANGHAI = timezone(timedelta(hours=8), "Asia/Shanghai")


def in_business_time(instant: datetime) -> str:
    """How an instant is shown to people and their systems: ISO 8601 with +08:00."""
    return instant.astimezone(SHANGHAI).isoformat()


# An instant in an answer: kept as it is, shown with the business time zone's offset.
ShownInstant = Annotated[datetime, PlainSerializer(in_business_time, return_type=str, when_used="json")]


def business_date(instant: datetime) -> date:
    return instant.astimezone(SHANGHAI).date()


def start_of_business_day(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=SHANGHAI)
