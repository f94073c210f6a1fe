"""Working days of the State Council calendar (API.md v1.1, "Working days"), checked against
the published notices: 2026's National Day week and Spring Festival with their adjusted working
weekends, the Monday–Friday rule beyond the published years, and what a workflow gets on its
input."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from domain.application import FinancingInput
from domain.business_time import SHANGHAI
from domain.state_council_calendar import state_council_calendar
from domain.working_days import (
    MONDAY_TO_FRIDAY,
    WorkingCalendar,
    end_of_working_days,
    is_working_day,
    nth_working_day_after,
    working_days_between,
)

CALENDAR = state_council_calendar()


@pytest.mark.parametrize(
    ("day", "works"),
    [
        (date(2026, 9, 30), True),  # Wednesday before the holiday
        (date(2026, 10, 1), False),  # National Day (Thursday)
        (date(2026, 10, 5), False),  # Monday inside the holiday
        (date(2026, 10, 7), False),  # last day off (Wednesday)
        (date(2026, 10, 8), True),
        (date(2026, 10, 10), True),  # Saturday worked in exchange (调休)
        (date(2026, 10, 11), False),  # an ordinary Sunday
        (date(2026, 9, 20), True),  # Sunday worked in exchange
        (date(2026, 2, 14), True),  # Saturday worked before the Spring Festival
        (date(2026, 2, 16), False),  # 除夕 (Monday)
        (date(2026, 2, 23), False),  # the festival's last day off (Monday)
        (date(2026, 2, 28), True),  # Saturday worked after it
        (date(2026, 1, 2), False),  # New Year's Day holiday (Friday)
        (date(2026, 1, 4), True),  # Sunday worked for it
        (date(2026, 12, 2), True),  # an ordinary Wednesday
    ],
)
def test_the_2026_notice(day: date, works: bool) -> None:
    assert is_working_day(CALENDAR, day) is works


def test_beyond_the_published_years_monday_to_friday_works() -> None:
    last = CALENDAR.last_year
    national_day = date(last + 5, 10, 1)
    assert national_day.weekday() < 5 and is_working_day(CALENDAR, national_day)
    saturday = national_day + timedelta(days=(5 - national_day.weekday()))
    assert not is_working_day(CALENDAR, saturday)
    # and a calendar cut to start in 2026 knows nothing of 2025's holidays
    assert not is_working_day(CALENDAR, date(2025, 10, 1))
    assert is_working_day(state_council_calendar(2026), date(2025, 10, 1))
    assert state_council_calendar(CALENDAR.last_year + 1).days_off == ()


def test_seven_working_days_across_national_day() -> None:
    handed_over = datetime(2026, 9, 30, 10, 0, tzinfo=SHANGHAI)
    # 8 Thu, 9 Fri, 10 Sat (worked), 12 Mon, 13, 14, 15 Thu: the SLA runs to the end of the 15th
    assert nth_working_day_after(CALENDAR, date(2026, 9, 30), 7) == date(2026, 10, 15)
    assert end_of_working_days(CALENDAR, handed_over, 7) == datetime(2026, 10, 16, tzinfo=SHANGHAI)
    # counting Monday–Friday only, five of the seven days would have been holidays: over on the 9th
    assert end_of_working_days(MONDAY_TO_FRIDAY, handed_over, 7) == datetime(2026, 10, 10, tzinfo=SHANGHAI)


def test_seven_working_days_across_the_spring_festival() -> None:
    handed_over = datetime(2026, 2, 13, 16, 0, tzinfo=SHANGHAI)  # Friday afternoon
    # 14 Sat (worked), 24 Tue, 25, 26, 27 Fri, 28 Sat (worked), 2 March Mon
    assert end_of_working_days(CALENDAR, handed_over, 7) == datetime(2026, 3, 3, tzinfo=SHANGHAI)
    assert working_days_between(CALENDAR, date(2026, 2, 13), date(2026, 2, 27)) == 5


def test_the_day_counts_in_business_time() -> None:
    # 17:30 UTC on 30 September is 01:30 on 1 October in Wuxi: handed over on the holiday
    late = datetime.fromisoformat("2026-09-30T17:30:00+00:00")
    assert end_of_working_days(CALENDAR, late, 1) == datetime(2026, 10, 9, tzinfo=SHANGHAI)


def test_working_days_between_counts_after_the_start_up_to_the_end() -> None:
    assert working_days_between(CALENDAR, date(2026, 11, 30), date(2026, 11, 30)) == 0
    assert working_days_between(CALENDAR, date(2026, 11, 30), date(2026, 12, 2)) == 2  # Mon → Wed
    assert working_days_between(CALENDAR, date(2026, 12, 2), date(2026, 11, 30)) == 0
    assert working_days_between(CALENDAR, date(2026, 9, 30), date(2026, 10, 9)) == 2  # the holiday week


@given(
    start=st.dates(min_value=date(2004, 1, 1), max_value=date(2035, 12, 31)),
    n=st.integers(min_value=0, max_value=40),
)
def test_the_nth_working_day_is_n_working_days_away(start: date, n: int) -> None:
    found = nth_working_day_after(CALENDAR, start, n)
    assert working_days_between(CALENDAR, start, found) == n
    assert n == 0 or is_working_day(CALENDAR, found)


def test_the_calendar_is_data_on_the_workflow_input() -> None:
    calendar = state_council_calendar(2026)
    assert calendar.first_year == 2026 and date(2026, 10, 1) in calendar.days_off
    assert date(2026, 10, 10) in calendar.working_weekends
    assert WorkingCalendar.model_validate_json(calendar.model_dump_json()) == calendar
    # the input of a financing started by an older API has none: it keeps counting calendar days
    assert FinancingInput.model_fields["calendar"].default is None


def test_a_calendar_holds_only_days_of_its_years() -> None:
    with pytest.raises(ValidationError):
        WorkingCalendar(first_year=2026, last_year=2026, days_off=(date(2027, 1, 1),))
    with pytest.raises(ValidationError):
        WorkingCalendar(first_year=2027, last_year=2026)
    with pytest.raises(ValueError):
        nth_working_day_after(CALENDAR, date(2026, 1, 1), -1)
