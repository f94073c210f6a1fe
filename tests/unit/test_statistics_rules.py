"""The bureau's rules that need no database (domain/statistics.py): periods of business dates,
months, the days-to-disbursement summary and its histogram."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from domain.business_time import SHANGHAI
from domain.state_council_calendar import state_council_calendar
from domain.statistics import (
    Period,
    PeriodProblem,
    day_buckets,
    disbursement_working_days,
    month_range,
    months,
    parse_day,
    period,
    summarize_days,
)

TODAY = date(2026, 12, 2)


def test_a_period_is_closed_and_in_business_time() -> None:
    november = Period(date(2026, 11, 1), date(2026, 11, 30))
    assert november.starts_at == datetime(2026, 11, 1, tzinfo=SHANGHAI)
    assert november.ends_at == datetime(2026, 12, 1, tzinfo=SHANGHAI)  # the end of the 30th
    assert november.holds(date(2026, 11, 30)) and not november.holds(date(2026, 12, 1))


def test_a_period_of_a_request() -> None:
    assert period(None, None, TODAY) is None  # all time
    assert period(date(2026, 11, 1), None, TODAY) == Period(date(2026, 11, 1), TODAY)
    assert period(None, date(2026, 6, 30), TODAY) == Period(date(2000, 1, 1), date(2026, 6, 30))
    assert period(date(2027, 1, 1), None, TODAY) == Period(date(2027, 1, 1), date(2027, 1, 1))
    with pytest.raises(PeriodProblem, match="after"):
        period(date(2026, 12, 1), date(2026, 11, 30), TODAY)
    with pytest.raises(PeriodProblem, match="2000"):
        period(date(1999, 12, 31), None, TODAY)


@pytest.mark.parametrize("text", ["2026-2-01", "2026-02-30", "20260201", "2026-02-01T00:00", "２０２６-02-01", ""])
def test_dates_are_written_yyyy_mm_dd(text: str) -> None:
    with pytest.raises(PeriodProblem):
        parse_day(text, "from")


def test_month_ranges() -> None:
    assert months(date(2026, 11, 15), date(2027, 2, 1)) == [
        date(2026, 11, 1),
        date(2026, 12, 1),
        date(2027, 1, 1),
        date(2027, 2, 1),
    ]
    default = month_range(None, None, TODAY)
    assert (default[0], default[-1], len(default)) == (date(2026, 1, 1), date(2026, 12, 1), 12)
    assert month_range("2026-11", "2026-11", TODAY) == [date(2026, 11, 1)]
    assert len(month_range("2017-01", "2026-12", TODAY)) == 120
    for first, last in (("2016-12", "2026-12"), ("2026-12", "2026-11"), ("2026-00", None), ("26-11", None)):
        with pytest.raises(PeriodProblem):
            month_range(first, last, TODAY)


def test_the_median_and_the_share_within_seven_working_days() -> None:
    assert summarize_days([]) is None
    one = summarize_days([4])
    assert one is not None and (one.median, one.within_7_working_days) == ("4.0", "1.00")
    even = summarize_days([9, 1, 3, 8])  # middle two: 3 and 8
    assert even is not None and (even.median, even.within_7_working_days) == ("5.5", "0.50")
    six = summarize_days([0, 1, 2, 7, 8, 30])  # 4 of 6 within: 0.666… → 0.67
    assert six is not None and (six.median, six.within_7_working_days) == ("4.5", "0.67")


def test_days_to_disbursement_count_working_days_after_the_day_of_submission() -> None:
    calendar = state_council_calendar()
    loans = [
        (datetime(2026, 9, 30, 16, 0, tzinfo=SHANGHAI), date(2026, 10, 9)),  # across National Day: 2
        (datetime(2026, 11, 27, 10, 0, tzinfo=SHANGHAI), date(2026, 11, 27)),  # same day: 0
        # 17:00 UTC on 29 November is 01:00 on the 30th in Wuxi: submitted Monday, paid Tuesday
        (datetime.fromisoformat("2026-11-29T17:00:00+00:00"), date(2026, 12, 1)),
    ]
    assert disbursement_working_days(calendar, loans) == [2, 0, 1]


def test_the_histogram_buckets() -> None:
    buckets = day_buckets([0, 0, 3, 7, 8, 10, 25])
    assert buckets[0] == ("0", 2) and buckets[7] == ("7", 1) and buckets[8] == ("8", 1)
    assert buckets[-1] == ("10+", 2) and sum(count for _, count in buckets) == 7
