"""The State Council's calendar as `WorkingCalendar` data, from the `chinese-calendar` package
(the published holiday notices, one table per year, 2004 to the latest notice).

Why that package: it is exactly the published notices — holidays and the adjusted working
weekends — and it says which years it covers, so beyond them the Monday–Friday rule of API.md
applies. (`holidays` fills later years with estimates, which is not the published calendar.)

The only module that reads the package. Call it outside workflows: the API passes its answer on
a financing's start input, the statistics and the stuck view use it when they answer.
"""

from __future__ import annotations

from datetime import date
from functools import lru_cache

import chinese_calendar

from domain.working_days import WorkingCalendar


@lru_cache
def state_council_calendar(from_year: int | None = None) -> WorkingCalendar:
    """The calendar's published years from `from_year` on (all of them when None). A year after
    the last published one gives a calendar of no year at all: Monday–Friday."""
    first = min(chinese_calendar.holidays).year
    last = max(chinese_calendar.holidays).year
    start = max(first, from_year) if from_year is not None else first
    if start > last:
        return WorkingCalendar(first_year=start, last_year=start)

    def within(days: dict[date, object]) -> tuple[date, ...]:
        return tuple(sorted(day for day in days if start <= day.year <= last))

    return WorkingCalendar(
        first_year=start,
        last_year=last,
        days_off=within(chinese_calendar.holidays),
        working_weekends=within(chinese_calendar.workdays),
    )
