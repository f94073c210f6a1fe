"""The read model: versioned writes, bank-scoped lists, and the queries ops and payments use."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

import asyncpg
import pytest

from domain.business_time import SHANGHAI
from domain.stages import Stage
from store.applications import ApplicationRepository
from store.cursors import InvalidCursor
from tests.store.factories import T0, disbursed, make_view


async def test_a_view_comes_back_exactly(db_pool: asyncpg.Pool) -> None:
    applications = ApplicationRepository(db_pool)
    view = disbursed(make_view(), "700000.00", "123456.78")
    await applications.upsert_view(view, "disbursed")
    assert await applications.get(view.application_id) == view
    assert await applications.get("no-such-application") is None
    row = await db_pool.fetchrow(
        "SELECT outstanding_principal, disbursed_amount, last_event FROM applications WHERE application_id = $1",
        view.application_id,
    )
    assert row is not None
    assert row["outstanding_principal"] == Decimal("123456.78") and row["disbursed_amount"] == Decimal("700000.00")
    assert row["last_event"] == "disbursed"


async def test_only_a_higher_version_overwrites(db_pool: asyncpg.Pool) -> None:
    applications = ApplicationRepository(db_pool)
    v1 = make_view(version=1)
    v2 = v1.model_copy(update={"stage": Stage.ACCOUNT_LOCK, "version": 2})
    await applications.upsert_view(v2, "approved")
    await applications.upsert_view(v1, "submitted")  # late
    assert await applications.get(v1.application_id) == v2
    await applications.upsert_view(v2.model_copy(update={"stage": Stage.FAILED}), "again")  # same version
    assert await applications.get(v1.application_id) == v2
    assert await applications.version_of(v1.application_id) == 2
    v3 = v2.model_copy(update={"stage": Stage.WITHDRAWN, "version": 3})
    await applications.upsert_view(v3, "withdrawn")
    assert await applications.get(v1.application_id) == v3


async def test_lists_are_newest_first_scoped_and_paged(db_pool: asyncpg.Pool) -> None:
    applications = ApplicationRepository(db_pool)
    start = T0 + timedelta(days=30)
    contract = "WX-LIST-1"
    views = [
        make_view(
            f"list-{i:02d}",
            bank_code="ICBC" if i % 3 else "CMB",
            contract_no=contract if i < 4 else f"WX-LIST-{i}",
            stage=Stage.REJECTED if i < 3 else Stage.BANK_REVIEW,
            submitted_at=start + timedelta(minutes=i // 2),  # pairs share an instant: the id breaks the tie
        )
        for i in range(10)
    ]
    for view in views:
        await applications.upsert_view(view, "submitted")
    newest_first = sorted(views, key=lambda v: (v.submitted_at, v.application_id), reverse=True)
    icbc_newest_first = [v.application_id for v in newest_first if v.bank_code == "ICBC"]

    seen: list[str] = []
    cursor: str | None = None
    while True:
        page, cursor = await applications.list(bank_code="ICBC", limit=2, cursor=cursor)
        assert all(v.bank_code == "ICBC" for v in page)
        seen += [v.application_id for v in page if v.application_id.startswith("list-")]
        if cursor is None:
            break
    assert seen == icbc_newest_first

    by_contract, _ = await applications.list(bank_code="ICBC", contract_no=contract)
    assert [v.application_id for v in by_contract] == ["list-02", "list-01"]
    rejected, _ = await applications.list(stage="rejected", contract_no=contract)  # ops: every bank
    assert [v.application_id for v in rejected] == ["list-02", "list-01", "list-00"]
    assert (await applications.list(bank_code="CMB", contract_no=contract))[0][0].application_id == "list-03"

    with pytest.raises(InvalidCursor):
        await applications.list(cursor="not-a-cursor")
    with pytest.raises(ValueError):
        await applications.list(stage="no_such_stage")


async def test_the_collection_account_given_once_is_kept(db_pool: asyncpg.Pool) -> None:
    applications = ApplicationRepository(db_pool)
    view = make_view(contract_no="WX-PAY-1")
    await applications.upsert_view(view, "submitted", collection_account_no="6222020000000001")
    assert await applications.has_active("WX-PAY-1")
    lent = disbursed(view, "500000.00", "500000.00")
    await applications.upsert_view(lent, "disbursed")
    assert await applications.collection_account(view.application_id) == "6222020000000001"
    assert await applications.collection_account("no-such") is None


async def test_stuck_lists_applications_needing_a_person(db_pool: asyncpg.Pool) -> None:
    applications = ApplicationRepository(db_pool)
    now = T0 + timedelta(days=400)
    flagged = make_view(
        "stuck-flagged",
        stage=Stage.REPAYING,
        bank_code="BOC",
        district="江阴市",
        needs_attention=True,
        attention_reasons=["a payment for this contract went to another account"],
    )
    late = make_view(
        "stuck-late", stage=Stage.ACCOUNT_LOCK, stage_deadline=now - timedelta(days=2, hours=3), submitted_at=T0
    )
    on_time = make_view("stuck-on-time", stage=Stage.BANK_REVIEW, stage_deadline=now + timedelta(days=1))
    # an ended financing that keeps a message for a person (its process waits for ops) is listed;
    # one that ended cleanly past an old deadline is not
    kept = make_view("stuck-kept", stage=Stage.FAILED, needs_attention=True, attention_reasons=["x"])
    finished = make_view("stuck-finished", stage=Stage.FAILED, stage_deadline=now - timedelta(days=9))
    for view in (flagged, late, on_time, kept, finished):
        await applications.upsert_view(view, "e")

    stuck = {s.application_id: s for s in await applications.stuck(now) if s.application_id.startswith("stuck-")}
    assert set(stuck) == {"stuck-flagged", "stuck-late", "stuck-kept"}
    assert stuck["stuck-flagged"].reasons == ["a payment for this contract went to another account"]
    assert stuck["stuck-flagged"].bank_code == "BOC" and stuck["stuck-flagged"].district == "江阴市"
    assert stuck["stuck-late"].stage is Stage.ACCOUNT_LOCK and stuck["stuck-late"].since == T0
    assert (
        "passed its deadline" in stuck["stuck-late"].reasons[0] and "2 days 3 hours" in stuck["stuck-late"].reasons[0]
    )


async def test_stuck_counts_the_working_days_a_stage_has_lasted(db_pool: asyncpg.Pool) -> None:
    """A review handed over the day before National Day 2026 and still waiting on Monday 12
    October has lasted 4 working days (8, 9, the Saturday 10 worked in exchange, 12), not 12."""
    applications = ApplicationRepository(db_pool)
    since = datetime(2026, 9, 30, 10, 0, tzinfo=SHANGHAI)
    view = make_view(
        "stuck-holiday", submitted_at=since, needs_attention=True, attention_reasons=["no decision within the SLA"]
    )
    await applications.upsert_view(view, "e")
    now = datetime(2026, 10, 12, 15, 0, tzinfo=SHANGHAI)
    [item] = [s for s in await applications.stuck(now) if s.application_id == "stuck-holiday"]
    assert item.working_days_in_stage == 4
