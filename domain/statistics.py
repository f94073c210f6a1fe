"""The finance bureau's figures (API.md v1.1, "The finance bureau"): the rules that do not need
the database — periods of business dates, months, and the days-to-disbursement summary.

A period is a closed range of business dates (Asia/Shanghai): what was granted or paid out on
those days counts, and what is outstanding is counted as of the end of its last day.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

from pydantic import BaseModel

from domain.business_time import business_date, start_of_business_day
from domain.inputs import EARLIEST_YEAR, LATEST_YEAR
from domain.money import Money
from domain.working_days import WorkingCalendar, working_days_between

TARGET_WORKING_DAYS = 7  # Wuxi's aim: from application to disbursement within 7 working days
MAX_MONTHS = 120  # one answer of /v1/stats/monthly covers at most ten years
FIRST_DAY = date(EARLIEST_YEAR, 1, 1)
LAST_DAY = date(LATEST_YEAR, 12, 31)
_MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")


class PeriodProblem(ValueError):
    """A period or month range the bureau cannot ask for (answered 422 validation_error)."""


@dataclass(frozen=True)
class Period:
    """Business dates `first`..`last`, both included."""

    first: date
    last: date

    @property
    def starts_at(self) -> datetime:
        return start_of_business_day(self.first)

    @property
    def ends_at(self) -> datetime:
        """The instant the period is over: midnight after its last day, business time."""
        return start_of_business_day(self.last + timedelta(days=1))

    def holds(self, day: date) -> bool:
        return self.first <= day <= self.last


def period(first: date | None, last: date | None, today: date) -> Period | None:
    """The period `from`..`to` of a request; None when neither is given (all time). A missing
    `from` means since the platform's earliest date, a missing `to` up to today."""
    if first is None and last is None:
        return None
    start = first or FIRST_DAY
    end = last or max(today, start)
    for name, day in (("from", start), ("to", end)):
        if not FIRST_DAY <= day <= LAST_DAY:
            raise PeriodProblem(f"{name} lies within the years {EARLIEST_YEAR}–{LATEST_YEAR}")
    if start > end:
        raise PeriodProblem(f"from ({start}) is after to ({end})")
    return Period(start, end)


def parse_month(text: str, name: str) -> date:
    """`YYYY-MM` as the first day of that month."""
    found = _MONTH.fullmatch(text)
    if found is None:
        raise PeriodProblem(f"{name} is a month written YYYY-MM (e.g. 2026-11), not {text[:20]!r}")
    year = int(found.group(1))
    if not EARLIEST_YEAR <= year <= LATEST_YEAR:
        raise PeriodProblem(f"{name} lies within the years {EARLIEST_YEAR}–{LATEST_YEAR}")
    return date(year, int(found.group(2)), 1)


def month_key(day: date) -> str:
    return f"{day.year:04d}-{day.month:02d}"


def next_month(day: date) -> date:
    return date(day.year + day.month // 12, day.month % 12 + 1, 1)


def months(first: date, last: date) -> list[date]:
    """The first days of every month from `first`'s to `last`'s, both included."""
    found, month = [], first.replace(day=1)
    while month <= last:
        found.append(month)
        month = next_month(month)
    return found


def month_range(first: str | None, last: str | None, today: date) -> list[date]:
    """The months of a `/v1/stats/monthly` request (default: the twelve up to this one)."""
    end = parse_month(last, "to") if last is not None else today.replace(day=1)
    if first is not None:
        start = parse_month(first, "from")
    else:
        start = end.replace(year=end.year - 1)
        start = next_month(start)
    if start > end:
        raise PeriodProblem(f"from ({month_key(start)}) is after to ({month_key(end)})")
    found = months(start, end)
    if len(found) > MAX_MONTHS:
        raise PeriodProblem(f"a request covers at most {MAX_MONTHS} months, not {len(found)}")
    return found


class DisbursementDays(BaseModel):
    """Working days from submission to disbursement over the loans disbursed in a period:
    their median ("4.0", one place) and the share paid out within 7 ("0.83", two places)."""

    median: str
    within_7_working_days: str


def disbursement_working_days(calendar: WorkingCalendar, loans: Iterable[tuple[datetime, date]]) -> list[int]:
    """For each (submitted_at, disbursed_on): the working days after the day of submission up to
    and including the payout day (a loan paid out the day it was applied for took 0)."""
    return [working_days_between(calendar, business_date(at), paid) for at, paid in loans]


def summarize_days(days: Sequence[int]) -> DisbursementDays | None:
    if not days:
        return None
    ordered, middle = sorted(days), len(days) // 2
    if len(days) % 2:
        median = Decimal(ordered[middle])
    else:  # the mean of the two middle ones: a whole number or a half
        median = Decimal(ordered[middle - 1] + ordered[middle]) / 2
    share = Decimal(sum(1 for d in days if d <= TARGET_WORKING_DAYS)) / Decimal(len(days))
    return DisbursementDays(
        median=str(median.quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)),
        within_7_working_days=str(share.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)),
    )


def day_buckets(days: Sequence[int], top: int = 10) -> list[tuple[str, int]]:
    """How many loans took 0, 1, … `top - 1` working days, and `top` or more (the last bucket,
    labelled `top+`): the histogram the bureau reads against the 7-day target."""
    counts = [0] * (top + 1)
    for d in days:
        counts[min(d, top)] += 1
    return [(str(n) if n < top else f"{top}+", counts[n]) for n in range(top + 1)]


_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def parse_day(text: str | None, name: str) -> date | None:
    """A business date `YYYY-MM-DD` of a request (None when not given)."""
    if text is None:
        return None
    try:
        if not _DAY.fullmatch(text):
            raise ValueError
        return date.fromisoformat(text)
    except ValueError:
        raise PeriodProblem(f"{name} is a date written YYYY-MM-DD (e.g. 2026-11-30), not {text[:20]!r}") from None


# ---- the answers (API.md v1.1): money as two-place strings -------------------------------


class Breakdown(BaseModel):
    credit_granted: Money
    financing_disbursed: Money
    outstanding: Money
    loans: int


class BankFigures(Breakdown):
    bank_code: str
    bank_name: str


class DistrictFigures(Breakdown):
    district: str


class Figures(BaseModel):
    """`GET /v1/stats`: all time, or credit, payouts and SMEs of a period with what is
    outstanding at its end."""

    credit_granted: Money
    financing_disbursed: Money
    outstanding: Money
    smes_served: int
    applications: dict[str, int]
    by_bank: list[BankFigures]
    by_district: list[DistrictFigures]
    disbursement_days: DisbursementDays | None


class MonthFigures(BaseModel):
    month: str
    credit_granted: Money
    financing_disbursed: Money
    repaid: Money
    loans: int
    smes_served: int


class MonthlyFigures(BaseModel):
    items: list[MonthFigures]
