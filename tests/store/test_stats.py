"""GET /v1/stats from the read model: the shape of API.md and sums that add up."""

from __future__ import annotations

from decimal import Decimal

import asyncpg

from domain.stages import Stage
from domain.state_council_calendar import state_council_calendar
from store.applications import ApplicationRepository
from store.seed import WUXI_BANKS, WUXI_DISTRICTS
from store.statistics import StatisticsRepository
from tests.store.factories import disbursed, make_view

D = Decimal
MONEY_KEYS = ("credit_granted", "financing_disbursed", "outstanding")


async def test_stats_of_an_empty_book_then_of_a_few_loans(fresh_db_pool: asyncpg.Pool) -> None:
    applications = ApplicationRepository(fresh_db_pool)
    stats = await StatisticsRepository(fresh_db_pool).figures(None, state_council_calendar())
    assert set(stats) == {*MONEY_KEYS, "smes_served", "applications", "by_bank", "by_district", "disbursement_days"}
    assert stats["disbursement_days"] is None  # no loan yet
    assert [stats[k] for k in MONEY_KEYS] == [D("0.00")] * 3 and all(str(stats[k]) == "0.00" for k in MONEY_KEYS)
    assert stats["smes_served"] == 0
    assert stats["applications"] == {stage.value: 0 for stage in Stage}
    assert [b["bank_code"] for b in stats["by_bank"]] == [b.bank_code for b in WUXI_BANKS]
    assert [d["district"] for d in stats["by_district"]] == [d.name for d in WUXI_DISTRICTS]
    assert stats["by_bank"][0] == {
        "bank_code": "ICBC",
        "bank_name": "中国工商银行",
        "credit_granted": D("0.00"),
        "financing_disbursed": D("0.00"),
        "outstanding": D("0.00"),
        "loans": 0,
    }

    views = [
        # lent and partly repaid
        disbursed(make_view(bank_code="ICBC", district="梁溪区", supplier=1), "700000.00", "500000.00"),
        # approved, then the account lock failed: credit was granted, nothing disbursed
        make_view(bank_code="BOC", district="江阴市", supplier=2, stage=Stage.FAILED, approved_amount=D("300000.00")),
        # still in review
        make_view(bank_code="ICBC", district="梁溪区", supplier=3),
        # lent to the same supplier as the first, then written off: off the book
        disbursed(make_view(bank_code="ICBC", district="宜兴市", supplier=1), "200000.00", "150000.00").model_copy(
            update={"stage": Stage.WRITTEN_OFF}
        ),
        # lent and settled, in a district outside the seeded list
        disbursed(make_view(bank_code="CCB", district="某新区", supplier=4), "100000.00", "0.00").model_copy(
            update={"stage": Stage.SETTLED}
        ),
    ]
    for view in views:
        await applications.upsert_view(view, "e")

    stats = await StatisticsRepository(fresh_db_pool).figures(None, state_council_calendar())
    assert stats["credit_granted"] == D("1300000.00")
    assert stats["financing_disbursed"] == D("1000000.00")
    assert stats["outstanding"] == D("500000.00")
    assert stats["smes_served"] == 2
    assert stats["applications"]["repaying"] == 1 and stats["applications"]["bank_review"] == 1
    assert sum(stats["applications"].values()) == 5

    by_bank = {b["bank_code"]: b for b in stats["by_bank"]}
    assert len(by_bank) == 23
    assert by_bank["ICBC"] == {
        "bank_code": "ICBC",
        "bank_name": "中国工商银行",
        "credit_granted": D("900000.00"),
        "financing_disbursed": D("900000.00"),
        "outstanding": D("500000.00"),
        "loans": 2,
    }
    assert by_bank["BOC"]["credit_granted"] == D("300000.00") and by_bank["BOC"]["loans"] == 0
    assert by_bank["CCB"]["financing_disbursed"] == D("100000.00") and by_bank["CCB"]["outstanding"] == D("0.00")

    by_district = {d["district"]: d for d in stats["by_district"]}
    assert list(by_district)[-1] == "某新区"  # after the seeded ones
    assert by_district["宜兴市"]["outstanding"] == D("0.00") and by_district["宜兴市"]["loans"] == 1
    for key in MONEY_KEYS:
        assert sum((b[key] for b in stats["by_bank"]), D(0)) == stats[key]
        assert sum((d[key] for d in stats["by_district"]), D(0)) == stats[key]
