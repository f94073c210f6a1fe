"""The bureau's period and monthly figures from records dated as the workflows date them: the
approval is the timeline's first stage after bank_review, the payout `disbursed_on`, principal
comes back with each applied message, a write-off takes a loan off the book. Figures to the fen."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

import asyncpg

from domain.application import ApplicationView, MessageOutcome, TimelineEntry
from domain.business_time import SHANGHAI
from domain.stages import Stage
from domain.state_council_calendar import state_council_calendar
from domain.statistics import Period
from store.applications import ApplicationRepository
from store.statistics import StatisticsRepository
from tests.store.factories import make_view

D = Decimal
CALENDAR = state_council_calendar()


def at(day: str, hour: int = 10) -> datetime:
    return datetime.fromisoformat(day).replace(hour=hour, tzinfo=SHANGHAI)


def loan(
    *,
    bank: str,
    district: str,
    supplier: int,
    submitted: str,
    approved: str,
    paid_out: str,
    amount: str,
    repayments: tuple[tuple[str, str], ...] = (),
    ends: tuple[Stage, str] | None = None,
) -> ApplicationView:
    """A loan's record: submitted, approved (account_lock entered), paid out, principal repaid
    on the given days (treasury payments), possibly ended (settled, written off …)."""
    principal = D(amount)
    repaid = sum((D(p) for _, p in repayments), D("0.00"))
    timeline = [
        TimelineEntry(stage=Stage.VERIFYING, at=at(submitted, 9)),
        TimelineEntry(stage=Stage.BANK_REVIEW, at=at(submitted, 9)),
        TimelineEntry(stage=Stage.ACCOUNT_LOCK, at=at(approved)),
        TimelineEntry(stage=Stage.DISBURSING, at=at(paid_out, 9)),
        TimelineEntry(stage=Stage.REPAYING, at=at(paid_out)),
    ]
    messages = [
        MessageOutcome(
            kind="treasury_payment",
            message_id=f"T-{supplier}-{n}",
            amount=D(p),
            received_at=at(day, 11),
            outcome="applied",
            applied_at=at(day, 11),
            applied_as="treasury",
            penalty=D("0.00"),
            interest=D("0.00"),
            principal=D(p),
            surplus=D("0.00"),
        )
        for n, (day, p) in enumerate(repayments)
    ]
    stage = Stage.REPAYING
    if ends is not None:
        stage = ends[0]
        timeline.append(TimelineEntry(stage=stage, at=at(ends[1], 15)))
    return make_view(
        bank_code=bank,
        district=district,
        supplier=supplier,
        stage=stage,
        submitted_at=at(submitted, 9),
        stage_since=timeline[-1].at,
        timeline=timeline,
        approved_amount=principal,
        annual_rate=D("0.0385"),
        term_days=180,
        disbursed_on=date.fromisoformat(paid_out),
        outstanding_principal=principal - repaid,
        principal_repaid=repaid,
        messages=messages,
        version=5,
    )


async def _book(pool: asyncpg.Pool) -> None:
    views = [
        # approved 30 Sep, paid out after National Day: 3 working days (30 Sep, 8 and 9 Oct)
        loan(
            bank="ICBC",
            district="梁溪区",
            supplier=1,
            submitted="2026-09-29",
            approved="2026-09-30",
            paid_out="2026-10-09",
            amount="700000.00",
            repayments=(("2026-10-20", "200000.00"), ("2026-11-05", "500000.00")),
            ends=(Stage.SETTLED, "2026-11-05"),
        ),
        # November: approved and paid out the same day as submitted (0 working days)
        loan(
            bank="BOC",
            district="江阴市",
            supplier=2,
            submitted="2026-11-02",
            approved="2026-11-02",
            paid_out="2026-11-02",
            amount="300000.00",
            repayments=(("2026-11-30", "100000.00"),),
        ),
        # submitted 27 Nov, approved 30 Nov, paid out 1 Dec: 2 working days; written off 20 Dec
        loan(
            bank="ICBC",
            district="宜兴市",
            supplier=1,
            submitted="2026-11-27",
            approved="2026-11-30",
            paid_out="2026-12-01",
            amount="150000.55",
            ends=(Stage.WRITTEN_OFF, "2026-12-20"),
        ),
    ]
    # approved in November, then the lock was refused: credit granted, nothing disbursed
    refused = make_view(
        bank_code="BOC",
        district="江阴市",
        supplier=3,
        stage=Stage.FAILED,
        submitted_at=at("2026-11-10", 9),
        approved_amount=D("80000.00"),
        version=4,
        timeline=[
            TimelineEntry(stage=Stage.BANK_REVIEW, at=at("2026-11-10", 9)),
            TimelineEntry(stage=Stage.ACCOUNT_LOCK, at=at("2026-11-11")),
            TimelineEntry(stage=Stage.ACCOUNT_LOCK, at=at("2026-11-11", 12), note="a note is no stage change"),
            TimelineEntry(stage=Stage.FAILED, at=at("2026-11-12")),
        ],
    )
    waiting = make_view(bank_code="CCB", district="梁溪区", supplier=4, submitted_at=at("2026-11-20", 9))
    applications = ApplicationRepository(pool)
    for view in [*views, refused, waiting]:
        await applications.upsert_view(view, "e")


async def test_a_period_counts_its_own_days_and_what_is_owed_at_its_end(fresh_db_pool: asyncpg.Pool) -> None:
    await _book(fresh_db_pool)
    stats = StatisticsRepository(fresh_db_pool)
    november = await stats.figures(Period(date(2026, 11, 1), date(2026, 11, 30)), CALENDAR)
    # approved in November: 300000.00 + 80000.00 + 150000.55 (approved on the 30th)
    assert november["credit_granted"] == D("530000.55")
    assert november["financing_disbursed"] == D("300000.00")  # paid out in November: one loan
    # owed at the end of 30 November: the first loan settled on the 5th, the second owes
    # 200000.00 after its payment of the 30th, the third is not paid out yet
    assert november["outstanding"] == D("200000.00")
    assert november["smes_served"] == 1
    assert november["applications"]["bank_review"] == 1 and november["applications"]["failed"] == 1
    assert sum(november["applications"].values()) == 4  # submitted in November
    assert november["disbursement_days"] == {"median": "0.0", "within_7_working_days": "1.00"}
    by_bank = {b["bank_code"]: b for b in november["by_bank"]}
    assert by_bank["BOC"]["credit_granted"] == D("380000.00") and by_bank["BOC"]["loans"] == 1
    assert by_bank["ICBC"]["credit_granted"] == D("150000.55") and by_bank["ICBC"]["loans"] == 0
    assert by_bank["ICBC"]["outstanding"] == D("0.00")
    for key in ("credit_granted", "financing_disbursed", "outstanding"):
        assert sum((b[key] for b in november["by_bank"]), D(0)) == november[key]
        assert sum((d[key] for d in november["by_district"]), D(0)) == november[key]

    # mid-October: the first loan is owed 500000.00 after its payment of the 20th
    assert (await stats.figures(Period(date(2026, 10, 1), date(2026, 10, 25)), CALENDAR))["outstanding"] == D(
        "500000.00"
    )
    # 10 December: the third loan is on the book; 20 December it was written off
    december = await stats.figures(Period(date(2026, 12, 1), date(2026, 12, 10)), CALENDAR)
    assert december["outstanding"] == D("350000.55") and december["financing_disbursed"] == D("150000.55")
    assert december["disbursement_days"] == {"median": "2.0", "within_7_working_days": "1.00"}
    after = await stats.figures(Period(date(2026, 12, 1), date(2026, 12, 31)), CALENDAR)
    assert after["outstanding"] == D("200000.00")


async def test_a_period_over_everything_agrees_with_all_time(fresh_db_pool: asyncpg.Pool) -> None:
    await _book(fresh_db_pool)
    stats = StatisticsRepository(fresh_db_pool)
    all_time = await stats.figures(None, CALENDAR)
    everything = await stats.figures(Period(date(2026, 1, 1), date(2027, 12, 31)), CALENDAR)
    assert everything == all_time
    assert all_time["disbursement_days"] == {"median": "2.0", "within_7_working_days": "1.00"}  # 0, 2, 3


async def test_months_with_and_without_business(fresh_db_pool: asyncpg.Pool) -> None:
    await _book(fresh_db_pool)
    items = await StatisticsRepository(fresh_db_pool).monthly(date(2026, 8, 1), date(2027, 1, 1))
    got: dict[str, Any] = {item["month"]: item for item in items}
    assert list(got) == ["2026-08", "2026-09", "2026-10", "2026-11", "2026-12", "2027-01"]
    assert got["2026-08"] == {
        "month": "2026-08",
        "credit_granted": D("0.00"),
        "financing_disbursed": D("0.00"),
        "repaid": D("0.00"),
        "loans": 0,
        "smes_served": 0,
    }
    assert got["2026-09"]["credit_granted"] == D("700000.00") and got["2026-09"]["loans"] == 0
    assert (got["2026-10"]["financing_disbursed"], got["2026-10"]["repaid"]) == (D("700000.00"), D("200000.00"))
    assert got["2026-11"]["credit_granted"] == D("530000.55")
    assert got["2026-11"]["repaid"] == D("600000.00")  # 500000.00 on the 5th, 100000.00 on the 30th
    assert (got["2026-12"]["loans"], got["2026-12"]["smes_served"]) == (1, 1)
    # the months add up to the whole book
    assert sum((i["financing_disbursed"] for i in items), D(0)) == D("1150000.55")


async def test_a_repayment_just_before_midnight_in_wuxi_counts_on_that_day(fresh_db_pool: asyncpg.Pool) -> None:
    """23:30 on 30 November in Wuxi is 15:30 UTC: November's, whatever the server's zone."""
    view = loan(
        bank="ICBC",
        district="梁溪区",
        supplier=9,
        submitted="2026-11-02",
        approved="2026-11-02",
        paid_out="2026-11-02",
        amount="1000.00",
        repayments=(("2026-11-30", "400.00"),),
    )
    late = view.messages[0].model_copy(update={"applied_at": at("2026-11-30", 23) + timedelta(minutes=30)})
    await ApplicationRepository(fresh_db_pool).upsert_view(view.model_copy(update={"messages": [late]}), "e")
    stats = StatisticsRepository(fresh_db_pool)
    items = await stats.monthly(date(2026, 11, 1), date(2026, 12, 1))
    assert [i["repaid"] for i in items] == [D("400.00"), D("0.00")]
    assert (await stats.figures(Period(date(2026, 11, 1), date(2026, 11, 30)), CALENDAR))["outstanding"] == D("600.00")
