"""RecordActivities: the versioned read model and the write-off booking."""

from __future__ import annotations

from decimal import Decimal

from temporalio.testing import ActivityEnvironment

from activities.records import RecordActivities
from domain import steps
from domain.stages import Stage
from store.applications import ApplicationRepository
from store.ledger import LedgerRepository
from tests.fixtures.simulators import unique
from tests.store.factories import make_view


async def test_record_application_is_versioned(
    env: ActivityEnvironment, records: RecordActivities, views: ApplicationRepository
) -> None:
    app_id = unique("app")
    v1 = make_view(app_id, stage=Stage.VERIFYING, version=1)
    v2 = v1.model_copy(update={"stage": Stage.BANK_REVIEW, "version": 2})

    await env.run(records.record_application, steps.RecordApplication(view=v2, event="verified"))
    await env.run(records.record_application, steps.RecordApplication(view=v1, event="submitted"))  # late

    assert await views.get(app_id) == v2
    assert await views.version_of(app_id) == 2


async def test_book_write_off_posts_once(
    env: ActivityEnvironment, records: RecordActivities, ledger: LedgerRepository, views: ApplicationRepository
) -> None:
    app_id = unique("app")
    await ledger.post_disbursement(app_id, "ICBC", Decimal("500000.00"), f"zcd:{app_id}:disburse")
    booking = steps.WriteOffBooking(
        application_id=app_id,
        bank_code="ICBC",
        principal=Decimal("500000.00"),
        interest=Decimal("1200.00"),
        penalty=Decimal("300.00"),
        reason="uncollectable",
    )

    await env.run(records.book_write_off, booking)
    await env.run(records.book_write_off, booking)

    balances = await ledger.balances(app_id)
    assert balances.postings == 2
    assert balances.written_off == Decimal("501500.00") and balances.loan_receivable == Decimal("0.00")
    assert sum((await ledger.trial_balance(app_id)).values()) == 0
    assert await views.get(app_id) is None  # the workflow records the view itself
