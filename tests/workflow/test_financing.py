"""The financing workflow on the time-skipping server, activities mocked.

Months of loan life pass in milliseconds: `env.sleep` moves the server's clock, and the
workflow's timers (review SLA, lock deadline, maturity, grace) fire as they would."""

from __future__ import annotations

import uuid
from datetime import date, datetime, timedelta
from decimal import Decimal

import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.api.sdk.v1 import WorkflowMetadata
from temporalio.client import WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError

from domain import steps
from domain import workflow_api as names
from domain.application import (
    AccountChangeEvent,
    ApplicationView,
    AttentionAcknowledgement,
    DeadlineExtension,
    Deadlines,
    Decision,
    OfflineLockAnswer,
    OpsCancellation,
    RepaymentReceipt,
    ResendToBank,
    SupplierRepayment,
    TreasuryPayment,
    Withdrawal,
    WriteOff,
)
from domain.business_time import business_date
from domain.contracts import ContractStatus
from domain.products import STANDARD_PRODUCT
from domain.stages import Stage
from domain.working_days import MONDAY_TO_FRIDAY, WorkingCalendar, end_of_working_days
from tests.workflow.harness import (
    COLLECTION_ACCOUNT,
    OTHER_SUPPLIER,
    WORKING_CALENDAR,
    FakeSystems,
    Harness,
    application_request,
    contract,
)
from workflows import search_attributes as sa

D = Decimal
APPROVE = Decision(decision="approve", approved_amount=D("700000.00"), annual_rate=D("0.0385"), term_days=180)


def new_contract(h: Harness, **overrides: object) -> str:
    no = f"WX-2026-{uuid.uuid4().hex[:6].upper()}"
    h.fakes.add_contract(contract(no, **overrides))
    return no


async def approved_and_locked(h: Harness, amount: str = "700000.00"):
    """Submit, approve, confirm the lock: the loan is disbursed and repaying."""
    no = new_contract(h)
    handle, view = await h.submit(application_request(no, amount))
    assert view.stage == Stage.BANK_REVIEW
    decision = APPROVE.model_copy(update={"approved_amount": D(amount)})
    view = await h.update(handle, names.UPDATE_DECIDE, decision, ApplicationView)
    assert view.stage == Stage.ACCOUNT_LOCK
    await h.signal(handle, names.SIGNAL_ACCOUNT_CHANGE, _confirmed(no))
    view = await h.until_stage(handle, Stage.REPAYING)
    return no, handle, view


def _confirmed(no: str, decision: str = "confirmed", event_id: str | None = None) -> AccountChangeEvent:
    return AccountChangeEvent(
        event_id=event_id or f"evt-{uuid.uuid4().hex[:8]}",
        contract_no=no,
        decision=decision,
        decided_at="2026-11-27T10:00:00+08:00",
    )


def _payment(no: str, amount: str, paid_on, payment_id: str | None = None, account: str = COLLECTION_ACCOUNT):
    return TreasuryPayment(
        payment_id=payment_id or f"T-{uuid.uuid4().hex[:8]}",
        contract_no=no,
        payee_account_no=account,
        amount=D(amount),
        paid_on=paid_on,
    )


def _undo_calls(fakes: FakeSystems) -> dict[str, int]:
    return {
        name: fakes.calls[name]
        for name in (
            steps.RELEASE_FINANCING,
            steps.RESTORE_PAYEE_ACCOUNT,
            steps.UNLOCK_PAYEE_ACCOUNT,
            steps.CANCEL_REVIEW,
        )
    }


async def _history_event_types(handle) -> list[EventType.ValueType]:
    history = await handle.fetch_history()
    return [e.event_type for e in history.events]


# ---------------------------------------------------------------- the happy path


async def test_happy_path_settles_with_exact_money(h: Harness) -> None:
    no, handle, view = await approved_and_locked(h)
    assert view.disbursed_on is not None and view.maturity_date == view.disbursed_on + timedelta(days=180)
    assert view.outstanding_principal == D("700000.00")
    assert h.fakes.treasury_locks[no] == COLLECTION_ACCOUNT
    await h.signal(handle, names.SIGNAL_TREASURY_PAYMENT, _payment(no, "1000000.00", view.disbursed_on))
    final = await h.final(handle)
    assert final.stage == Stage.SETTLED
    assert (final.interest_paid, final.principal_repaid, final.surplus_released) == (
        D("74.86"),
        D("700000.00"),
        D("299925.14"),
    )
    assert final.outstanding_principal == D("0.00") and final.penalty_paid == D("0.00")
    # settlement released everything the financing held
    assert no not in h.fakes.registry and no not in h.fakes.procurement_holders
    assert no not in h.fakes.treasury_locks
    assert h.fakes.payee[no] == h.fakes.contracts[no].payee_account_no
    assert len(h.fakes.payouts) == 1
    # the read model holds the final view
    assert h.fakes.views[final.application_id].stage == Stage.SETTLED
    assert h.fakes.views[final.application_id].surplus_released == D("299925.14")
    assert [t.stage for t in final.timeline] == [
        Stage.VERIFYING,
        Stage.BANK_REVIEW,
        Stage.ACCOUNT_LOCK,
        Stage.DISBURSING,
        Stage.REPAYING,
        Stage.SETTLED,
    ]
    assert final.credit_profile is not None and 0 <= final.credit_profile.score <= 100


async def test_read_model_follows_every_stage(h: Harness) -> None:
    no = new_contract(h)
    handle, view = await h.submit(application_request(no))
    assert h.fakes.views[view.application_id].stage == Stage.BANK_REVIEW
    await h.update(handle, names.UPDATE_DECIDE, APPROVE, ApplicationView)
    assert h.fakes.views[view.application_id].stage == Stage.ACCOUNT_LOCK
    assert h.fakes.views[view.application_id].approved_amount == D("700000.00")
    await h.signal(handle, names.SIGNAL_ACCOUNT_CHANGE, _confirmed(no))
    repaying = await h.until_stage(handle, Stage.REPAYING)
    assert h.fakes.views[view.application_id].stage == Stage.REPAYING
    assert h.fakes.views[view.application_id].version == repaying.version


async def test_current_details_read_like_a_case_file(h: Harness) -> None:
    """What the Temporal UI shows under "Current details": stage, bank, district, contract and
    amount, what it waits for, when it needs a person and when it gives up."""
    no = new_contract(h)
    handle, _ = await h.submit(application_request(no))
    metadata = await handle.query("__temporal_workflow_metadata", result_type=WorkflowMetadata)
    details = metadata.current_details
    assert details.startswith("**bank_review** since ")
    assert f"ICBC · 梁溪区 · contract {no} · 700,000.00 requested" in details
    assert "Waiting for " in details
    assert "Needs a person after " in details and "Gives up at " in details


async def test_several_partial_payments(h: Harness) -> None:
    no, handle, view = await approved_and_locked(h)
    day = view.disbursed_on
    assert day is not None
    for amount, offset in (("200000.00", 30), ("300000.00", 60)):
        await h.signal(handle, names.SIGNAL_TREASURY_PAYMENT, _payment(no, amount, day + timedelta(days=offset)))
    mid = await h.until(handle, lambda v: v.principal_repaid > D("400000"))
    assert mid.stage == Stage.REPAYING
    # day 0..30 on 700,000: 2245.83; day 30..60 on (700000-197754.17)=502245.83: 1611.37
    assert mid.interest_paid == D("2245.83") + D("1611.37")
    await h.signal(handle, names.SIGNAL_TREASURY_PAYMENT, _payment(no, "300000.00", day + timedelta(days=90)))
    final = await h.final(handle)
    assert final.stage == Stage.SETTLED
    paid_in = D("800000.00")
    assert final.interest_paid + final.principal_repaid + final.surplus_released + final.penalty_paid == paid_in
    assert final.principal_repaid == D("700000.00")
    assert len(h.fakes.repayments) == 3


async def test_duplicate_payment_is_applied_once(h: Harness) -> None:
    no, handle, view = await approved_and_locked(h)
    payment = _payment(no, "100000.00", view.disbursed_on, payment_id="T20270331-0001")
    await h.signal(handle, names.SIGNAL_TREASURY_PAYMENT, payment)
    await h.signal(handle, names.SIGNAL_TREASURY_PAYMENT, payment.model_copy(update={"amount": D("900000.00")}))
    after = await h.until(handle, lambda v: v.principal_repaid > 0)
    # the workflow processed both signals before answering the query
    assert after.principal_repaid == D("100000.00") - D("74.86")
    assert h.fakes.calls[steps.APPLY_REPAYMENT] == 1


async def test_misdirected_payment_is_not_credited_and_flags(h: Harness) -> None:
    no, handle, view = await approved_and_locked(h)
    await h.signal(
        handle, names.SIGNAL_TREASURY_PAYMENT, _payment(no, "5000.00", view.disbursed_on, account="9999000011112222")
    )
    flagged = await h.until(handle, lambda v: v.needs_attention)
    assert flagged.principal_repaid == D("0.00") and flagged.interest_paid == D("0.00")
    assert any("another account" in r for r in flagged.attention_reasons)
    recorded = await _eventually_recorded(h, flagged)
    assert recorded.needs_attention


WORKFLOW_TASK_EVENTS = {
    EventType.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED,
    EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED,
    EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED,
}


async def _needs_attention_attribute(handle) -> bool | None:
    return (await handle.describe()).typed_search_attributes.get(sa.NEEDS_ATTENTION)


async def _refused_without_trace(h: Harness, handle, ack: AttentionAcknowledgement) -> str:
    """The acknowledgement is refused (invalid_state) and leaves no trace in history: the
    workflow task that ran the validator, and nothing else (no update accepted, no command)."""
    before = await _history_event_types(handle)
    with pytest.raises(WorkflowUpdateFailedError) as err:
        await h.update(handle, names.UPDATE_ACKNOWLEDGE, ack, ApplicationView)
    assert isinstance(err.value.cause, ApplicationError) and err.value.cause.type == "invalid_state"
    after = await _history_event_types(handle)
    assert after[: len(before)] == before
    assert set(after[len(before) :]) <= WORKFLOW_TASK_EVENTS, after[len(before) :]
    return err.value.cause.message


async def test_misdirected_payment_acknowledged_by_ops(h: Harness) -> None:
    no, handle, view = await approved_and_locked(h)
    misdirected = _payment(no, "5000.00", view.disbursed_on, payment_id="T-MIS-0001", account="9999000011112222")
    await h.signal(handle, names.SIGNAL_TREASURY_PAYMENT, misdirected)
    flagged = await h.until(handle, lambda v: v.needs_attention)
    [item] = flagged.attention
    assert item.key == "misdirected:T-MIS-0001" and item.acknowledgeable
    assert item.reason == flagged.attention_reasons[0] and "acknowledge" in (item.how_to_fix or "")
    assert (await _eventually_recorded(h, flagged)).attention == flagged.attention
    assert await _needs_attention_attribute(handle) is True

    unknown = AttentionAcknowledgement(reason="misdirected:T-NOPE", note="x", recorded_by="ops:ops")
    assert "misdirected:T-MIS-0001" in await _refused_without_trace(h, handle, unknown)
    assert (await h.view(handle)).needs_attention

    ack = AttentionAcknowledgement(reason=item.key, note="treasury recalled the payment", recorded_by="ops:alice")
    cleared = await h.update(handle, names.UPDATE_ACKNOWLEDGE, ack, ApplicationView)
    assert not cleared.needs_attention and cleared.attention == [] and cleared.attention_reasons == []
    assert cleared.stage == Stage.REPAYING and cleared.principal_repaid == D("0.00")
    assert cleared.timeline[-1].stage == Stage.REPAYING
    note = cleared.timeline[-1].note
    assert note == "misdirected:T-MIS-0001 acknowledged by ops (alice): treasury recalled the payment"
    recorded = h.fakes.views[cleared.application_id]  # written before the update answered
    assert recorded.version == cleared.version and not recorded.needs_attention
    assert await _needs_attention_attribute(handle) is False
    await _refused_without_trace(h, handle, ack)  # already acknowledged

    # the loan carries on as before: repaid, settled
    await h.signal(handle, names.SIGNAL_TREASURY_PAYMENT, _payment(no, "1000000.00", view.disbursed_on))
    assert (await h.final(handle)).stage == Stage.SETTLED


async def test_acknowledging_a_flag_its_cause_clears_is_refused(h: Harness) -> None:
    no = new_contract(h)
    handle, submitted = await h.submit(application_request(no))
    await h.sleep_until(review_sla_passes(submitted) + timedelta(hours=1))
    flagged = await h.until(handle, lambda v: v.needs_attention)
    [item] = flagged.attention
    assert item.key == "deadline" and not item.acknowledgeable and "extend-deadline" in (item.how_to_fix or "")
    message = await _refused_without_trace(
        h, handle, AttentionAcknowledgement(reason="deadline", note="looked at it", recorded_by="ops:ops")
    )
    assert "extend-deadline" in message
    assert (await h.view(handle)).attention == flagged.attention


async def test_ignored_cancellation_of_a_live_loan_is_acknowledged(h: Harness) -> None:
    _no, handle, _ = await approved_and_locked(h)
    await handle.cancel()
    flagged = await h.until(handle, lambda v: v.needs_attention)
    assert [(i.key, i.acknowledgeable) for i in flagged.attention] == [("cancel", True)]
    ack = AttentionAcknowledgement(reason="cancel", note="told the requester", recorded_by="ops:ops")
    cleared = await h.update(handle, names.UPDATE_ACKNOWLEDGE, ack, ApplicationView)
    assert not cleared.needs_attention and cleared.stage == Stage.REPAYING


async def _eventually_recorded(h: Harness, view: ApplicationView) -> ApplicationView:
    handle = h.env.client.get_workflow_handle(names.workflow_id(view.application_id))
    await h.until(handle, lambda _: h.fakes.views[view.application_id].version >= view.version)
    return h.fakes.views[view.application_id]


async def test_early_supplier_repayment_and_duplicate(h: Harness) -> None:
    _no, handle, view = await approved_and_locked(h)
    day = view.disbursed_on
    assert day is not None
    repayment = SupplierRepayment(repayment_id="R-1", amount=D("100000.00"), paid_on=day + timedelta(days=30))
    for refused in (repayment, repayment.model_copy(update={"paid_on": day - timedelta(days=1)})):
        # dated after today's business date, or before the payout: refused, nothing booked
        with pytest.raises(WorkflowUpdateFailedError) as err:
            await h.update(handle, names.UPDATE_REPORT_REPAYMENT, refused, RepaymentReceipt)
        assert isinstance(err.value.cause, ApplicationError) and err.value.cause.type == "validation_error"
    await h.env.sleep(timedelta(days=30))
    receipt = await h.update(handle, names.UPDATE_REPORT_REPAYMENT, repayment, RepaymentReceipt)
    assert receipt.status == "accepted"
    again = await h.update(handle, names.UPDATE_REPORT_REPAYMENT, repayment, RepaymentReceipt)
    assert again.status == "duplicate"
    # the rest on the same day: 30 days of interest were paid by the first, nothing accrues more
    rest = SupplierRepayment(repayment_id="R-2", amount=D("602245.83"), paid_on=repayment.paid_on)
    assert (await h.update(handle, names.UPDATE_REPORT_REPAYMENT, rest, RepaymentReceipt)).status == "accepted"
    final = await h.final(handle)
    assert final.stage == Stage.SETTLED
    assert (final.interest_paid, final.principal_repaid, final.surplus_released) == (
        D("2245.83"),
        D("700000.00"),
        D("0.00"),
    )
    assert h.fakes.calls[steps.APPLY_REPAYMENT] == 2


# ---------------------------------------------------------------- overdue, penalty, write-off


async def test_overdue_with_penalty_then_repaid(h: Harness) -> None:
    no, handle, view = await approved_and_locked(h)
    assert view.maturity_date is not None and view.disbursed_on is not None
    # past maturity (180 days) + grace (3 days): overdue on day 184
    await h.env.sleep(timedelta(days=185))
    overdue = await h.until_stage(handle, Stage.OVERDUE)
    assert overdue.needs_attention and any("overdue" in r for r in overdue.attention_reasons)
    assert len(h.fakes.overdue_notices) == 1
    assert h.fakes.views[overdue.application_id].stage == Stage.OVERDUE
    paid_on = view.maturity_date + timedelta(days=10)
    await h.signal(handle, names.SIGNAL_TREASURY_PAYMENT, _payment(no, "800000.00", paid_on))
    final = await h.final(handle)
    assert final.stage == Stage.SETTLED
    # 180 days at 3.85% on 700,000 = 13475.00; 10 days at 5.775% = 1122.92 penalty
    assert final.interest_paid == D("13475.00")
    assert final.penalty_paid == D("1122.92")
    assert final.surplus_released == D("800000.00") - D("700000.00") - D("13475.00") - D("1122.92")
    assert not final.needs_attention


async def test_repaid_within_grace_pays_no_penalty(h: Harness) -> None:
    no, handle, view = await approved_and_locked(h)
    assert view.maturity_date is not None
    await h.env.sleep(timedelta(days=181))
    paid_on = view.maturity_date + timedelta(days=2)
    await h.signal(handle, names.SIGNAL_TREASURY_PAYMENT, _payment(no, "720000.00", paid_on))
    final = await h.final(handle)
    assert final.stage == Stage.SETTLED and final.penalty_paid == D("0.00")
    # 182 days at the contract rate: 700000 * 0.0385 * 182 / 360 = 13624.72
    assert final.interest_paid == D("13624.72")
    assert h.fakes.overdue_notices == []


async def test_overdue_then_written_off_then_recovery(h: Harness) -> None:
    no, handle, view = await approved_and_locked(h)
    await h.env.sleep(timedelta(days=185))
    await h.until_stage(handle, Stage.OVERDUE)
    written = await h.update(handle, names.UPDATE_WRITE_OFF, WriteOff(reason="supplier insolvent"), ApplicationView)
    assert written.stage == Stage.WRITTEN_OFF
    assert len(h.fakes.write_offs) == 1
    claim = h.fakes.write_offs[0]
    assert claim.principal == D("700000.00") and claim.interest == D("13475.00") and claim.penalty > 0
    # the bank keeps its claim on the contract's money: registration and lock stay
    assert h.fakes.registry[no] == view.application_id and h.fakes.treasury_locks[no] == COLLECTION_ACCOUNT
    # a later treasury payment is booked as a recovery
    total_claim = claim.principal + claim.interest + claim.penalty
    await h.signal(
        handle, names.SIGNAL_TREASURY_PAYMENT, _payment(no, str(total_claim + D("10.00")), view.disbursed_on)
    )
    final = await h.final(handle)
    assert final.stage == Stage.WRITTEN_OFF
    assert final.recovered_amount == total_claim and final.surplus_released == D("10.00")
    assert next(iter(h.fakes.repayments.values())).source == "recovery"
    assert no not in h.fakes.registry and no not in h.fakes.treasury_locks


async def test_write_off_refused_unless_overdue(h: Harness) -> None:
    _, handle, _ = await approved_and_locked(h)
    with pytest.raises(WorkflowUpdateFailedError) as err:
        await h.update(handle, names.UPDATE_WRITE_OFF, WriteOff(reason="too early"), ApplicationView)
    assert isinstance(err.value.cause, ApplicationError) and err.value.cause.type == "invalid_state"


# ---------------------------------------------------------------- refusals before disbursement


async def test_bank_rejection_releases_registration(h: Harness) -> None:
    no = new_contract(h)
    handle, _ = await h.submit(application_request(no))
    view = await h.update(
        handle, names.UPDATE_DECIDE, Decision(decision="reject", reason="insufficient history"), ApplicationView
    )
    assert view.stage == Stage.REJECTED and view.final_reason == "insufficient history"
    assert no not in h.fakes.registry and no not in h.fakes.procurement_holders
    assert h.fakes.calls[steps.CANCEL_REVIEW] == 0  # the bank ended its own review
    assert (await h.final(handle)).stage == Stage.REJECTED
    assert h.fakes.views[view.application_id].stage == Stage.REJECTED


async def test_refused_decision_leaves_no_trace(h: Harness) -> None:
    no = new_contract(h)
    handle, _ = await h.submit(application_request(no))
    before = await _history_event_types(handle)
    for bad in (
        APPROVE.model_copy(update={"annual_rate": D("0.0601")}),
        APPROVE.model_copy(update={"approved_amount": D("700000.01")}),
        APPROVE.model_copy(update={"term_days": 366}),
        APPROVE.model_copy(update={"approved_amount": D("0.00")}),
    ):
        with pytest.raises(WorkflowUpdateFailedError) as err:
            await h.update(handle, names.UPDATE_DECIDE, bad, ApplicationView)
        assert isinstance(err.value.cause, ApplicationError) and err.value.cause.type == "validation_error"
    after = await _history_event_types(handle)
    assert EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED not in after[len(before) :]
    # bounds are inclusive
    edge = APPROVE.model_copy(update={"annual_rate": D("0.0600"), "term_days": 365})
    assert (await h.update(handle, names.UPDATE_DECIDE, edge, ApplicationView)).stage == Stage.ACCOUNT_LOCK


def review_sla_passes(view: ApplicationView, calendar: WorkingCalendar = WORKING_CALENDAR) -> datetime:
    """When the product's 7-working-day review SLA of a review handed over as `view` shows ends."""
    assert view.stage == Stage.BANK_REVIEW and view.stage_since is not None
    return end_of_working_days(calendar, view.stage_since, STANDARD_PRODUCT.review_sla_days)


async def test_review_sla_flags_then_expires_with_compensation(h: Harness) -> None:
    no = new_contract(h)
    handle, view = await h.submit(application_request(no))
    assert view.stage_since is not None
    await h.sleep_until(review_sla_passes(view) - timedelta(hours=1))
    assert not (await h.view(handle)).needs_attention  # 7 working days, not 7 days
    await h.sleep_until(review_sla_passes(view) + timedelta(hours=1))
    flagged = await h.until(handle, lambda v: v.needs_attention)
    assert flagged.stage == Stage.BANK_REVIEW
    assert any("review SLA" in r for r in flagged.attention_reasons)
    assert (await _eventually_recorded(h, flagged)).needs_attention
    await h.sleep_until(view.stage_since + timedelta(days=30, hours=1))  # the expiry counts calendar days
    final = await h.final(handle)
    assert final.stage == Stage.EXPIRED and not final.needs_attention
    assert h.fakes.reviews[view.application_id] == "cancelled"
    assert no not in h.fakes.registry and no not in h.fakes.procurement_holders


async def test_ops_extend_deadline_clears_the_flag(h: Harness) -> None:
    no = new_contract(h)
    handle, submitted = await h.submit(application_request(no))
    assert submitted.stage_since is not None
    await h.sleep_until(review_sla_passes(submitted) + timedelta(hours=1))
    await h.until(handle, lambda v: v.needs_attention)
    view = await h.update(handle, names.UPDATE_EXTEND_DEADLINE, DeadlineExtension(days=10), ApplicationView)
    assert not view.needs_attention and view.stage == Stage.BANK_REVIEW
    # past the original expiry (30 days), within the extended one
    await h.sleep_until(submitted.stage_since + timedelta(days=33))
    assert (await h.view(handle)).stage == Stage.BANK_REVIEW


def _calendar_around(today: date) -> WorkingCalendar:
    """A calendar as the State Council might publish one around `today`: the three weekdays
    after it off (a holiday), and the first Saturday after those a working day (调休)."""
    following = (today + timedelta(days=n) for n in range(1, 8))
    off = tuple(day for day in following if day.weekday() < 5)[:3]
    saturday = off[-1] + timedelta(days=(5 - off[-1].weekday()) % 7 or 7)
    return WorkingCalendar(first_year=today.year, last_year=saturday.year, days_off=off, working_weekends=(saturday,))


async def test_review_sla_counts_the_working_days_of_the_input_calendar(h: Harness) -> None:
    """The workflow counts the SLA on the calendar it was started with — whatever today is —
    and not on the package's calendar nor on Monday–Friday: holidays skipped, a working
    Saturday counted."""
    now = await h.env.get_current_time()
    calendar = _calendar_around(business_date(now))
    no = new_contract(h)
    handle, view = await h.submit(application_request(no), calendar=calendar)
    attention_at = review_sla_passes(view, calendar)
    # three weekdays off, one Saturday on: the SLA ends two working days later than Monday–Friday
    assert attention_at > review_sla_passes(view, MONDAY_TO_FRIDAY)
    await h.sleep_until(attention_at - timedelta(hours=1))
    assert not (await h.view(handle)).needs_attention
    await h.sleep_until(attention_at + timedelta(hours=1))
    flagged = await h.until(handle, lambda v: v.needs_attention)
    assert [item.key for item in flagged.attention] == ["deadline"]


async def test_ops_resend_to_bank(h: Harness) -> None:
    no = new_contract(h)
    handle, _ = await h.submit(application_request(no))
    view = await h.update(handle, names.UPDATE_RESEND_TO_BANK, ResendToBank(note="bank lost it"), ApplicationView)
    assert view.stage == Stage.BANK_REVIEW
    assert h.fakes.calls[steps.SUBMIT_FOR_REVIEW] == 2


async def test_lock_refused_fails_and_undoes_everything(h: Harness) -> None:
    no = new_contract(h)
    handle, view = await h.submit(application_request(no))
    await h.update(handle, names.UPDATE_DECIDE, APPROVE, ApplicationView)
    await h.signal(handle, names.SIGNAL_ACCOUNT_CHANGE, _confirmed(no, "refused"))
    final = await h.final(handle)
    assert final.stage == Stage.FAILED and "refused" in (final.final_reason or "")
    assert _undo_calls(h.fakes) == {
        steps.RELEASE_FINANCING: 1,
        steps.RESTORE_PAYEE_ACCOUNT: 1,
        steps.UNLOCK_PAYEE_ACCOUNT: 0,
        steps.CANCEL_REVIEW: 1,
    }
    assert h.fakes.payee[no] == h.fakes.contracts[no].payee_account_no
    assert no not in h.fakes.registry and h.fakes.payouts == {}
    assert h.fakes.views[view.application_id].stage == Stage.FAILED


async def test_lock_deadline_flags_then_fails(h: Harness) -> None:
    no = new_contract(h)
    handle, _ = await h.submit(application_request(no), deadlines=Deadlines(lock_attention_days=2, lock_expiry_days=4))
    await h.update(handle, names.UPDATE_DECIDE, APPROVE, ApplicationView)
    await h.env.sleep(timedelta(days=2, hours=1))
    flagged = await h.until(handle, lambda v: v.needs_attention)
    assert flagged.stage == Stage.ACCOUNT_LOCK and any("not answered" in r for r in flagged.attention_reasons)
    await h.env.sleep(timedelta(days=2))
    final = await h.final(handle)
    assert final.stage == Stage.FAILED
    assert _undo_calls(h.fakes)[steps.RESTORE_PAYEE_ACCOUNT] == 1 and no not in h.fakes.registry


async def test_unconfirmed_payout_flags_then_clears_once_paid(h: Harness) -> None:
    """The bank's answers to the payout are lost for longer than `disbursement_attention_minutes`:
    the process is flagged (still disbursing, still retrying), and the flag goes once it pays."""
    h.fakes.transient_failures[steps.DISBURSE] = 10_000  # every answer lost until we say otherwise
    no = new_contract(h)
    handle, _ = await h.submit(application_request(no), deadlines=Deadlines(disbursement_attention_minutes=30))
    await h.update(handle, names.UPDATE_DECIDE, APPROVE, ApplicationView)
    await h.signal(handle, names.SIGNAL_ACCOUNT_CHANGE, _confirmed(no))
    await h.until_stage(handle, Stage.DISBURSING)
    await h.env.sleep(timedelta(minutes=31))
    flagged = await h.until(handle, lambda v: v.needs_attention)
    assert flagged.stage == Stage.DISBURSING
    assert any("not confirmed the payout" in r for r in flagged.attention_reasons), flagged.attention_reasons
    assert (await _eventually_recorded(h, flagged)).needs_attention
    h.fakes.transient_failures[steps.DISBURSE] = 0
    await h.env.sleep(timedelta(minutes=2))  # the next retry comes within a minute
    paid = await h.until_stage(handle, Stage.REPAYING)
    assert not paid.needs_attention and len(h.fakes.payouts) == 1


async def test_offline_lock_answer_by_ops(h: Harness) -> None:
    no = new_contract(h)
    handle, _ = await h.submit(application_request(no))
    await h.update(handle, names.UPDATE_DECIDE, APPROVE, ApplicationView)
    answer = OfflineLockAnswer(decision="confirmed", note="purchaser confirmed by phone", recorded_by="ops-1")
    view = await h.update(handle, names.UPDATE_RECORD_OFFLINE_LOCK_ANSWER, answer, ApplicationView)
    assert view.stage in (Stage.DISBURSING, Stage.REPAYING)
    await h.until_stage(handle, Stage.REPAYING)
    assert h.fakes.offline_answers[0].decision == "confirmed"
    with pytest.raises(WorkflowUpdateFailedError):
        await h.update(handle, names.UPDATE_RECORD_OFFLINE_LOCK_ANSWER, answer, ApplicationView)


async def test_withdrawal_before_disbursement_and_refused_after(h: Harness) -> None:
    no = new_contract(h)
    handle, view = await h.submit(application_request(no))
    await h.update(handle, names.UPDATE_DECIDE, APPROVE, ApplicationView)
    withdrawn = await h.update(
        handle, names.UPDATE_WITHDRAW, Withdrawal(reason="supplier changed mind"), ApplicationView
    )
    assert withdrawn.stage == Stage.WITHDRAWN
    assert _undo_calls(h.fakes)[steps.RESTORE_PAYEE_ACCOUNT] == 1 and no not in h.fakes.registry
    assert h.fakes.reviews[view.application_id] == "cancelled"

    no2, handle2, _ = await approved_and_locked(h)
    before = await _history_event_types(handle2)
    with pytest.raises(WorkflowUpdateFailedError) as err:
        await h.update(handle2, names.UPDATE_WITHDRAW, Withdrawal(), ApplicationView)
    assert isinstance(err.value.cause, ApplicationError) and err.value.cause.type == "invalid_state"
    after = await _history_event_types(handle2)
    assert EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED not in after[len(before) :]
    assert h.fakes.registry[no2] == handle2.id.removeprefix(names.ID_PREFIX)


async def test_ops_cancel_compensates(h: Harness) -> None:
    no = new_contract(h)
    handle, _ = await h.submit(application_request(no))
    view = await h.update(
        handle, names.UPDATE_CANCEL, OpsCancellation(reason="duplicate", recorded_by="ops:ops"), ApplicationView
    )
    assert view.stage == Stage.FAILED and view.final_reason == "cancelled by ops: duplicate"
    assert no not in h.fakes.registry


async def test_temporal_cancellation_before_disbursement_compensates(h: Harness) -> None:
    no = new_contract(h)
    handle, _ = await h.submit(application_request(no))
    await handle.cancel()
    final = await h.final(handle)
    assert final.stage == Stage.FAILED and no not in h.fakes.registry


# ---------------------------------------------------------------- verification refusals


@pytest.mark.parametrize(
    ("case", "code"),
    [
        ("unknown", "contract_not_found"),
        ("financed", "contract_already_financed"),
        ("supplier", "validation_error"),
        ("not_effective", "validation_error"),
        ("no_product", "validation_error"),
        ("too_much", "validation_error"),
    ],
)
async def test_verification_refusals(h: Harness, case: str, code: str) -> None:
    no = new_contract(h, status=ContractStatus.TERMINATED) if case == "not_effective" else new_contract(h)
    request = application_request(no)
    product = None if case == "no_product" else STANDARD_PRODUCT
    if case == "unknown":
        request = application_request("WX-NOPE")
    elif case == "financed":
        h.fakes.procurement_holders[no] = "someone-else"
        h.fakes.registry[no] = "someone-else"
    elif case == "supplier":
        request = application_request(no, supplier_credit_code=OTHER_SUPPLIER)
    elif case == "too_much":
        request = application_request(no, amount="900000.01")  # 0.90 × 1,000,000.00 = 900,000.00
    with pytest.raises(WorkflowUpdateFailedError) as err:
        await h.submit(request, product=product)
    assert isinstance(err.value.cause, ApplicationError) and err.value.cause.type == code
    # nothing stays registered or recorded
    assert h.fakes.registry.get(no) in (None, "someone-else")
    assert not h.fakes.views


async def test_eligible_maximum_is_accepted(h: Harness) -> None:
    no = new_contract(h, paid_amount=D("100000.00"))
    _, view = await h.submit(application_request(no, amount="810000.00"))  # 0.9 × 900,000
    assert view.stage == Stage.BANK_REVIEW and view.eligible_maximum == D("810000.00")


async def test_registry_race_refuses_the_second(h: Harness) -> None:
    no = new_contract(h)
    await h.submit(application_request(no))
    with pytest.raises(WorkflowUpdateFailedError) as err:
        await h.submit(application_request(no))
    assert isinstance(err.value.cause, ApplicationError) and err.value.cause.type == "contract_already_financed"


# ---------------------------------------------------------------- faults


async def test_disbursement_retried_after_lost_answers_pays_once(h: Harness) -> None:
    h.fakes.transient_failures[steps.DISBURSE] = 2  # executed, then the answer is lost, twice
    _, _handle, view = await approved_and_locked(h)
    assert h.fakes.calls[steps.DISBURSE] == 3
    assert len(h.fakes.payouts) == 1
    assert view.outstanding_principal == D("700000.00")


async def test_submission_is_idempotent_by_application_id(h: Harness) -> None:
    no = new_contract(h)
    handle, first = await h.submit(application_request(no), application_id="same-app-1")
    _, second = await h.submit(application_request(no), application_id="same-app-1")
    assert second.application_id == first.application_id and second.stage == Stage.BANK_REVIEW
    assert h.fakes.calls[steps.REGISTER_FINANCING] == 1
    del handle
