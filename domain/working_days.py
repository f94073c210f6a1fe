"""Working days of the mainland calendar the State Council publishes each year (API.md v1.1,
"Working days"): public holidays are off, the weekends it declares working (调休) are on, and
beyond the years it covers every Monday to Friday is a working day.

The calendar is data (`WorkingCalendar`), never looked up here: a workflow gets it on its start
input, so a later release of the calendar package cannot move a deadline of a loan in flight
when its history is replayed. `domain/state_council_calendar.py` builds it from the package.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from pydantic import BaseModel, ConfigDict, model_validator

from domain.business_time import business_date, start_of_business_day

SATURDAY = 5


class WorkingCalendar(BaseModel):
    """The State Council calendar of the years `first_year`..`last_year` (inclusive): its days
    off (holidays, including those that fall on a weekend) and its working weekends."""

    model_config = ConfigDict(frozen=True)

    first_year: int
    last_year: int
    days_off: tuple[date, ...] = ()
    working_weekends: tuple[date, ...] = ()

    @model_validator(mode="after")
    def _within_the_years(self) -> WorkingCalendar:
        if self.first_year > self.last_year:
            raise ValueError("first_year must not be after last_year")
        for day in (*self.days_off, *self.working_weekends):
            if not self.first_year <= day.year <= self.last_year:
                raise ValueError(f"{day} lies outside the years {self.first_year}-{self.last_year}")
        return self

    def covers(self, day: date) -> bool:
        return self.first_year <= day.year <= self.last_year


MONDAY_TO_FRIDAY = WorkingCalendar(first_year=1, last_year=1)
"""A calendar that covers nothing useful: every Monday to Friday works (the rule beyond the
published years, and what a financing started without a calendar is measured by)."""


def is_working_day(calendar: WorkingCalendar, day: date) -> bool:
    if calendar.covers(day):  # a year has some 40 such days: a tuple is quick enough
        if day in calendar.working_weekends:
            return True
        if day in calendar.days_off:
            return False
    return day.weekday() < SATURDAY


def nth_working_day_after(calendar: WorkingCalendar, day: date, n: int) -> date:
    """The `n`-th working day after `day` (`day` itself never counts; n=0 is `day`)."""
    if n < 0:
        raise ValueError("n must not be negative")
    found = day
    while n > 0:
        found += timedelta(days=1)
        if is_working_day(calendar, found):
            n -= 1
    return found


def working_days_between(calendar: WorkingCalendar, start: date, end: date) -> int:
    """How many working days lie after `start` up to and including `end` (0 when `end` is not
    after `start`): a loan applied for on Monday and paid out on Wednesday took 2."""
    count, day = 0, start
    while day < end:
        day += timedelta(days=1)
        if is_working_day(calendar, day):
            count += 1
    return count


def end_of_working_days(calendar: WorkingCalendar, start: datetime, n: int) -> datetime:
    """When `n` working days from the instant `start` have passed: the end (midnight, business
    time) of the `n`-th working day after `start`'s business date. "Within 7 working days of the
    hand-over" means until then; the hand-over day itself does not count."""
    last = nth_working_day_after(calendar, business_date(start), n)
    return start_of_business_day(last + timedelta(days=1))
