"""When a supplier's financing request expires (domain/supplier_channel.request_expires_at): at
the end of the n-th working day of the State Council calendar after the day it was made, n being
ZCD_FINANCING_REQUEST_OPEN_WORKING_DAYS (7 unless set) — counted as the review SLA is."""

from __future__ import annotations

from datetime import datetime

import pytest
from pydantic import ValidationError

from domain.business_time import SHANGHAI
from domain.settings import Settings
from domain.state_council_calendar import state_council_calendar
from domain.supplier_channel import request_expires_at
from domain.working_days import MONDAY_TO_FRIDAY

CALENDAR = state_council_calendar()


def test_seven_working_days_skip_national_day_and_count_its_working_saturday() -> None:
    made = datetime(2026, 9, 30, 15, 30, tzinfo=SHANGHAI)
    # 8 Thu, 9 Fri, 10 Sat (worked), 12 Mon, 13, 14, 15 Thu: open to the end of the 15th
    assert request_expires_at(CALENDAR, made, 7) == datetime(2026, 10, 16, tzinfo=SHANGHAI)
    assert request_expires_at(MONDAY_TO_FRIDAY, made, 7) == datetime(2026, 10, 10, tzinfo=SHANGHAI)


def test_the_day_it_was_made_never_counts_whatever_the_hour() -> None:
    morning = datetime(2026, 11, 30, 0, 0, tzinfo=SHANGHAI)  # a Monday
    evening = datetime(2026, 11, 30, 23, 59, 59, tzinfo=SHANGHAI)
    assert request_expires_at(CALENDAR, morning, 1) == request_expires_at(CALENDAR, evening, 1)
    assert request_expires_at(CALENDAR, morning, 1) == datetime(2026, 12, 2, tzinfo=SHANGHAI)  # end of Tuesday


def test_the_open_days_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    assert Settings().financing_request_open_working_days == 7
    monkeypatch.setenv("ZCD_FINANCING_REQUEST_OPEN_WORKING_DAYS", "3")
    assert Settings().financing_request_open_working_days == 3
    monkeypatch.setenv("ZCD_FINANCING_REQUEST_OPEN_WORKING_DAYS", "0")
    with pytest.raises(ValidationError):
        Settings()
