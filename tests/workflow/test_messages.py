"""Every message a financing is given is applied once or kept for a person — early, late,
out of stage or repeated — on the time-skipping server (activities mocked, some held "in
flight" at a gate so a message lands exactly while a step runs)."""

from __future__ import annotations

import asyncio
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from temporalio.client import WorkflowHandle, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError

from domain import steps
from domain import workflow_api as names
from domain.application import (
    ApplicationView,
    AttentionAcknowledgement,
    Decision,
    RepaymentReceipt,
    SupplierRepayment,
)
from domain.business_time import business_date
from domain.stages import Stage
from tests.workflow.harness import Harness, application_request
from tests.workflow.test_financing import APPROVE, _confirmed, _payment, approved_and_locked, new_contract

D = Decimal


def _outcome(view: ApplicationView, message_id: str) -> str:
    [found] = [m for m in view.messages if m.message_id == message_id]
    return found.outcome


async def test_payment_while_the_payout_is_being_confirmed_is_applied_once_paid_out(h: Harness) -> None:
    """The lost-payment case of issue 9: the treasury pays the moment the payout exists, and the
    notice reaches the workflow before the payout's answer does."""
    no = new_contract(h)
    handle, _ = await h.submit(application_request(no))
    await h.update(handle, names.UPDATE_DECIDE, APPROVE, ApplicationView)
    payout = h.fakes.hold(steps.DISBURSE)
    await h.signal(handle, names.SIGNAL_ACCOUNT_CHANGE, _confirmed(no))
    await h.fakes.arrived[steps.DISBURSE].wait()
    early = _payment(no, "1000000.00", paid_on=date.today(), payment_id="T-EARLY-1")
    await h.signal(handle, names.SIGNAL_TREASURY_PAYMENT, early)
    waiting = await h.until(handle, lambda v: any(m.message_id == "T-EARLY-1" for m in v.messages))
    assert waiting.stage == Stage.DISBURSING and _outcome(waiting, "T-EARLY-1") == "waiting"
    payout.set()
    final = await h.final(handle)
    assert final.stage == Stage.SETTLED and _outcome(final, "T-EARLY-1") == "applied"
    assert final.interest_paid == D("74.86") and final.surplus_released == D("299925.14")
    assert h.fakes.calls[steps.APPLY_REPAYMENT] == 1 and len(h.fakes.payouts) == 1


async def _repayment_reported_while_paying_out(
    h: Harness, repayment_id: str, amount: str, *, payout_refused: bool = False
) -> tuple[WorkflowHandle[Any, ApplicationView], asyncio.Event, asyncio.Future[RepaymentReceipt]]:
    """An approved, confirmed loan whose payout is held at its gate, and the bank's repayment
    reported meanwhile (its update in flight). Set the returned gate to let the payout answer."""
    no = new_contract(h)
    handle, _ = await h.submit(application_request(no))
    await h.update(handle, names.UPDATE_DECIDE, APPROVE, ApplicationView)
    payout = h.fakes.hold(steps.DISBURSE)
    if payout_refused:
        h.fakes.refusals[steps.DISBURSE] = ApplicationError(
            "account frozen", type="external_refusal", non_retryable=True
        )
    await h.signal(handle, names.SIGNAL_ACCOUNT_CHANGE, _confirmed(no))
    await h.fakes.arrived[steps.DISBURSE].wait()
    today = business_date(await h.env.get_current_time())
    repayment = SupplierRepayment(repayment_id=repayment_id, amount=D(amount), paid_on=today)
    reported = asyncio.ensure_future(h.update(handle, names.UPDATE_REPORT_REPAYMENT, repayment, RepaymentReceipt))
    await h.until(handle, lambda v: v.stage == Stage.DISBURSING)
    return handle, payout, reported


async def test_supplier_repayment_while_the_payout_is_being_confirmed_waits_for_the_loan(h: Harness) -> None:
    """Chaos seed 7 (CI): the record showed `repaying` while the task that replayed the payout's
    result was still in `disbursing`; the bank's repayment must wait for the loan, not be refused."""
    handle, payout, reported = await _repayment_reported_while_paying_out(h, "R-EARLY", "1000000.00")
    payout.set()
    assert (await reported).status == "accepted"
    final = await h.final(handle)
    assert final.stage == Stage.SETTLED and _outcome(final, "R-EARLY") == "applied"
    assert h.fakes.calls[steps.APPLY_REPAYMENT] == 1 and len(h.fakes.payouts) == 1


async def test_supplier_repayment_waiting_for_a_payout_the_bank_refuses_is_refused(h: Harness) -> None:
    handle, payout, reported = await _repayment_reported_while_paying_out(
        h, "R-NO-LOAN", "1000.00", payout_refused=True
    )
    payout.set()
    with pytest.raises(WorkflowUpdateFailedError) as err:
        await reported
    assert isinstance(err.value.cause, ApplicationError) and err.value.cause.type == "invalid_state"
    final = await h.final(handle)
    assert final.stage == Stage.FAILED and not any(m.message_id == "R-NO-LOAN" for m in final.messages)
    assert h.fakes.calls[steps.APPLY_REPAYMENT] == 0


async def test_confirmation_while_the_change_is_being_requested_is_taken(h: Harness) -> None:
    no = new_contract(h)
    handle, _ = await h.submit(application_request(no))
    asking = h.fakes.hold(steps.REQUEST_PAYEE_CHANGE)
    decided = asyncio.ensure_future(h.update(handle, names.UPDATE_DECIDE, APPROVE, ApplicationView))
    await h.fakes.arrived[steps.REQUEST_PAYEE_CHANGE].wait()
    await h.signal(handle, names.SIGNAL_ACCOUNT_CHANGE, _confirmed(no, event_id="E-EARLY"))
    asking.set()
    answered = await decided
    assert answered.stage in (Stage.ACCOUNT_LOCK, Stage.DISBURSING, Stage.REPAYING)
    lent = await h.until_stage(handle, Stage.REPAYING)
    assert _outcome(lent, "E-EARLY") == "applied" and not lent.needs_attention
    assert [e.stage for e in lent.timeline if e.note is None] == [
        Stage.VERIFYING,
        Stage.BANK_REVIEW,
        Stage.ACCOUNT_LOCK,
        Stage.DISBURSING,
        Stage.REPAYING,
    ]


async def test_an_answer_nobody_asked_for_is_kept_and_acknowledged(h: Harness) -> None:
    no = new_contract(h)
    handle, _ = await h.submit(application_request(no))
    await h.signal(handle, names.SIGNAL_ACCOUNT_CHANGE, _confirmed(no, event_id="E-STRAY"))
    flagged = await h.until(handle, lambda v: v.needs_attention)
    assert flagged.stage == Stage.BANK_REVIEW and _outcome(flagged, "E-STRAY") == "kept"
    [item] = flagged.attention
    assert item.key == "account_change:E-STRAY" and item.acknowledgeable
    assert "had not asked" in item.reason
    # the stray answer is not the purchaser's answer to the change asked later
    view = await h.update(handle, names.UPDATE_DECIDE, APPROVE, ApplicationView)
    assert view.stage == Stage.ACCOUNT_LOCK
    ack = AttentionAcknowledgement(reason=item.key, note="procurement resent it by mistake", recorded_by="ops:ops")
    cleared = await h.update(handle, names.UPDATE_ACKNOWLEDGE, ack, ApplicationView)
    assert not cleared.needs_attention and h.fakes.views[cleared.application_id].version == cleared.version


async def test_a_contradicting_answer_after_the_lock_is_kept(h: Harness) -> None:
    no, handle, _ = await approved_and_locked(h)
    await h.signal(handle, names.SIGNAL_ACCOUNT_CHANGE, _confirmed(no, event_id="E-AGAIN"))
    await h.signal(handle, names.SIGNAL_ACCOUNT_CHANGE, _confirmed(no, decision="refused", event_id="E-LATE-NO"))
    flagged = await h.until(handle, lambda v: v.needs_attention)
    assert _outcome(flagged, "E-AGAIN") == "repeat" and _outcome(flagged, "E-LATE-NO") == "kept"
    assert flagged.stage == Stage.REPAYING


async def test_money_for_a_financing_that_ends_before_payout_is_kept_until_acknowledged(h: Harness) -> None:
    no = new_contract(h)
    handle, _ = await h.submit(application_request(no))
    await h.update(handle, names.UPDATE_DECIDE, APPROVE, ApplicationView)
    paid = _payment(no, "50000.00", paid_on=date.today(), payment_id="T-TOO-SOON")
    await h.signal(handle, names.SIGNAL_TREASURY_PAYMENT, paid)
    await h.signal(handle, names.SIGNAL_ACCOUNT_CHANGE, _confirmed(no, decision="refused"))
    failed = await h.until(handle, lambda v: v.stage == Stage.FAILED and v.needs_attention)
    assert _outcome(failed, "T-TOO-SOON") == "kept"
    [item] = failed.attention
    assert item.key == "unapplied:T-TOO-SOON" and "return it to the supplier" in item.reason
    # ops see it in the record (written once the ending is committed, a task after the query shows it)
    await h.until(handle, lambda v: h.fakes.views[v.application_id].needs_attention)
    assert h.fakes.calls[steps.APPLY_REPAYMENT] == 0
    described = await handle.describe()
    assert described.status is not None and described.status.name == "RUNNING"  # open until a person acts
    ack = AttentionAcknowledgement(reason=item.key, note="returned to the supplier", recorded_by="ops:alice")
    await h.update(handle, names.UPDATE_ACKNOWLEDGE, ack, ApplicationView)
    final = await h.final(handle)
    assert final.stage == Stage.FAILED and not final.needs_attention
    assert any("acknowledged by ops (alice)" in (e.note or "") for e in final.timeline)


async def test_money_arriving_while_the_loan_closes_is_released_as_surplus(h: Harness) -> None:
    no, handle, view = await approved_and_locked(h)
    closing = h.fakes.hold(steps.RELEASE_FINANCING)
    await h.signal(handle, names.SIGNAL_TREASURY_PAYMENT, _payment(no, "1000000.00", view.disbursed_on))
    await h.fakes.arrived[steps.RELEASE_FINANCING].wait()
    await h.signal(handle, names.SIGNAL_TREASURY_PAYMENT, _payment(no, "20000.00", view.disbursed_on, "T-LATE"))
    closing.set()
    final = await h.final(handle)
    assert final.stage == Stage.SETTLED and _outcome(final, "T-LATE") == "applied"
    assert final.surplus_released == D("299925.14") + D("20000.00")
    # two repayments at the bank (a local step may run again after a held task; its key dedupes)
    assert len(h.fakes.repayments) == 2


async def test_every_update_answers_with_what_the_record_holds(h: Harness) -> None:
    """Read-your-writes: after a 200, a GET (the record) shows the change."""
    no = new_contract(h)
    handle, submitted = await h.submit(application_request(no))
    assert h.fakes.views[submitted.application_id] == submitted
    decided = await h.update(handle, names.UPDATE_DECIDE, APPROVE, ApplicationView)
    assert h.fakes.views[decided.application_id].version >= decided.version
    assert h.fakes.views[decided.application_id].stage != Stage.BANK_REVIEW


async def test_a_rejected_decision_answers_after_the_undo(h: Harness) -> None:
    no = new_contract(h)
    handle, _ = await h.submit(application_request(no))
    view = await h.update(handle, names.UPDATE_DECIDE, Decision(decision="reject", reason="thin file"), ApplicationView)
    assert view.stage == Stage.REJECTED and h.fakes.registry.get(no) is None
