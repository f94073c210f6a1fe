"""The supplier's channel on the time-skipping server: an application submitted on a bank's
behalf after the supplier accepted its offer runs as any other, already approved at the offer's
terms once verified — no second review, account_lock next — and the offer is still checked as
a decision is against what verification found."""

from __future__ import annotations

import uuid
from datetime import timedelta
from decimal import Decimal

import pytest
from temporalio.client import WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError

from domain import steps
from domain import workflow_api as names
from domain.application import AccountChangeEvent, ApplicationView, Decision, Preapproval, Withdrawal
from domain.stages import Stage
from tests.workflow.harness import Harness, application_request, contract

D = Decimal


def new_contract(h: Harness, **overrides: object) -> str:
    no = f"WX-2026-{uuid.uuid4().hex[:6].upper()}"
    h.fakes.add_contract(contract(no, **overrides))
    return no


def offer(amount: str = "800000.00", rate: str = "0.0420", term_days: int = 150) -> Preapproval:
    return Preapproval(
        request_id=f"FR-{uuid.uuid4().hex[:8]}",
        offer_id=f"OF-{uuid.uuid4().hex[:8]}",
        approved_amount=D(amount),
        annual_rate=D(rate),
        term_days=term_days,
    )


def confirmed(no: str) -> AccountChangeEvent:
    return AccountChangeEvent(
        event_id=f"evt-{uuid.uuid4().hex[:8]}", contract_no=no, decision="confirmed", decided_at="2026-11-27T10:00:00Z"
    )


async def test_an_accepted_offer_goes_to_the_account_lock_at_its_terms_and_is_paid_out(h: Harness) -> None:
    no, terms = new_contract(h), offer()
    handle, view = await h.submit(application_request(no, "800000.00"), preapproved=terms)
    # the answer comes once verified and the payee change requested: approved, in account_lock
    assert view.stage == Stage.ACCOUNT_LOCK
    assert (view.approved_amount, view.annual_rate, view.term_days) == (D("800000.00"), D("0.0420"), 150)
    assert (view.financing_request_id, view.offer_id) == (terms.request_id, terms.offer_id)
    assert [e.stage for e in view.timeline if e.note is None] == [Stage.VERIFYING, Stage.ACCOUNT_LOCK]
    assert any(e.note and terms.offer_id in e.note for e in view.timeline)
    assert h.fakes.calls[steps.SUBMIT_FOR_REVIEW] == 0  # the bank reviewed when it offered
    assert h.fakes.registry[no] == view.application_id
    assert h.fakes.views[view.application_id].stage == Stage.ACCOUNT_LOCK  # the record shows it too

    # the bank cannot decide it again
    again = Decision(decision="approve", approved_amount=D("1.00"), annual_rate=D("0.0300"), term_days=1)
    with pytest.raises(WorkflowUpdateFailedError) as err:
        await h.update(handle, names.UPDATE_DECIDE, again, ApplicationView)
    assert isinstance(err.value.cause, ApplicationError) and err.value.cause.type == "invalid_state"

    await h.signal(handle, names.SIGNAL_ACCOUNT_CHANGE, confirmed(no))
    paid = await h.until_stage(handle, Stage.REPAYING)
    [order] = h.fakes.payouts.values()
    assert order.amount == D("800000.00")
    assert paid.disbursed_on is not None
    assert paid.maturity_date == paid.disbursed_on + timedelta(days=150)


async def test_an_offer_that_no_longer_fits_is_refused_at_verification(h: Harness) -> None:
    no = new_contract(h)
    # a rate outside the product's range (the API checks offers; the workflow checks again)
    with pytest.raises(WorkflowUpdateFailedError) as err:
        await h.submit(application_request(no, "800000.00"), preapproved=offer(rate="0.0700"))
    assert isinstance(err.value.cause, ApplicationError) and err.value.cause.type == "validation_error"
    assert "annual_rate" in str(err.value.cause.message)
    assert no not in h.fakes.registry and no not in h.fakes.procurement_holders  # registration undone
    assert not h.fakes.views and h.fakes.calls[steps.SUBMIT_FOR_REVIEW] == 0


async def test_paid_meanwhile_the_eligible_maximum_shrinks_and_the_offer_is_refused(h: Harness) -> None:
    no = new_contract(h)
    h.fakes.recorded_payments[no] = D("200000.00")  # the treasury paid: 0.9 × 800,000 = 720,000
    with pytest.raises(WorkflowUpdateFailedError) as err:
        await h.submit(application_request(no, "800000.00"), preapproved=offer())
    assert isinstance(err.value.cause, ApplicationError) and err.value.cause.type == "validation_error"
    assert no not in h.fakes.registry


async def test_a_pre_approved_application_can_still_be_withdrawn_by_its_bank(h: Harness) -> None:
    no = new_contract(h)
    handle, view = await h.submit(application_request(no, "800000.00"), preapproved=offer())
    assert view.stage == Stage.ACCOUNT_LOCK
    ended = await h.update(
        handle, names.UPDATE_WITHDRAW, Withdrawal(reason="supplier changed its mind"), ApplicationView
    )
    assert ended.stage == Stage.WITHDRAWN
    assert no not in h.fakes.registry
    assert h.fakes.calls[steps.RESTORE_PAYEE_ACCOUNT] == 1
    assert h.fakes.calls[steps.CANCEL_REVIEW] == 0  # nothing was sent to the bank's review
