"""The model's seed corpus: each sequence tests/workflow/test_model.py found breaking one of
issue 9's rules, reduced to a plain test that says what it found (docs/reliability.md, "The
model"). A bug the product has not fixed yet is marked xfail(strict): the day it is fixed the
test passes, the strict marker fails the run, and the marker goes.

The gates hold a step "in flight" (harness.py): here the closing steps (the registration's
release), which run as local activities inside the workflow task that ends the financing, so
that a message or a cancellation reaches the server while that task runs.
"""

from __future__ import annotations

import asyncio
from datetime import date
from decimal import Decimal

import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowExecutionStatus
from temporalio.testing import WorkflowEnvironment

from domain import steps
from domain import workflow_api as names
from domain.application import ApplicationView, AttentionAcknowledgement, Decision, Recorded, Withdrawal
from domain.stages import Stage
from tests.workflow.harness import Harness, application_request
from tests.workflow.model.driver import Driver
from tests.workflow.model.systems import ModelSystems
from tests.workflow.test_financing import APPROVE, _confirmed, _payment, approved_and_locked, new_contract


def _stages(view: ApplicationView) -> list[Stage]:
    return [e.stage for e in view.timeline if e.note is None]


async def _ended_view(h: Harness, handle) -> ApplicationView:
    """The workflow's own final view (a query replays it), whatever its record says."""
    return await h.view(handle)


@pytest.mark.xfail(
    strict=True,
    reason="model finding 1: a Temporal cancellation during the undo of an ending re-ends the financing as failed",
)
@pytest.mark.parametrize("ending", ["withdrawn", "rejected"])
async def test_a_temporal_cancellation_while_an_ending_is_undone_keeps_the_ending(h: Harness, ending: str) -> None:
    """Found by the model as `hold(release_financing)` (the withdrawal's undo in flight) then
    `temporal_cancel`: the cancellation reaches the workflow task that undoes the ending; the
    server refuses that task's completion (a new event came), the task runs again with the
    cancellation first, and `run`'s `except CancelledError` ends the financing a second time:
    timeline withdrawn -> failed (an illegal transition), final_reason "cancelled through
    Temporal before disbursement". Its record keeps `withdrawn` at the same version (the
    versioned upsert ignores the retried task's write), so the record and the workflow's own
    end disagree for good."""
    no = new_contract(h)
    handle, _ = await h.submit(application_request(no))
    undo = h.fakes.hold(steps.RELEASE_FINANCING)
    if ending == "withdrawn":
        ended = asyncio.ensure_future(h.update(handle, names.UPDATE_WITHDRAW, Withdrawal(reason="x"), ApplicationView))
    else:
        reject = Decision(decision="reject", reason="thin file")
        ended = asyncio.ensure_future(h.update(handle, names.UPDATE_DECIDE, reject, ApplicationView))
    await h.fakes.arrived[steps.RELEASE_FINANCING].wait()
    await handle.cancel()
    undo.set()
    answer = await ended
    assert answer.stage == ending
    final = await _ended_view(h, handle)
    assert _stages(final)[-1] == ending, _stages(final)
    assert h.fakes.views[final.application_id].stage == final.stage


@pytest.mark.xfail(
    strict=True,
    reason="model finding 2: the record keeps the view a refused closing task wrote; the retried task's is ignored",
)
async def test_an_answer_that_arrives_while_the_loan_closes_reaches_the_record(h: Harness) -> None:
    """Found by the model as the loan repaid with `release_financing` held, and the
    purchaser's answer sent again (a new event id, the same decision: outcome `repeat`). The
    closing task had written the record (version N, settled) before the server refused its
    completion (a signal came meanwhile); the retried task takes the answer first and writes
    version N again with it — ignored by the versioned upsert (store/applications.py keeps a
    strictly higher version). The workflow's view has the answer; the record never will."""
    no, handle, view = await approved_and_locked(h)
    closing = h.fakes.hold(steps.RELEASE_FINANCING)
    await h.signal(handle, names.SIGNAL_TREASURY_PAYMENT, _payment(no, "1000000.00", view.disbursed_on))
    await h.fakes.arrived[steps.RELEASE_FINANCING].wait()
    await h.signal(handle, names.SIGNAL_ACCOUNT_CHANGE, _confirmed(no, event_id="E-AGAIN"))
    closing.set()
    final = await h.env.client.get_workflow_handle(handle.id, result_type=Recorded).result()
    ended = await _ended_view(h, handle)
    assert final.stage == Stage.SETTLED and any(m.message_id == "E-AGAIN" for m in ended.messages)
    record = h.fakes.views[ended.application_id]
    assert [m.message_id for m in record.messages] == [m.message_id for m in ended.messages]


@pytest.mark.xfail(
    strict=True,
    reason="model finding 3: a Temporal cancellation ends a financing that holds a kept message as CANCELED",
)
async def test_a_temporal_cancellation_does_not_drop_what_waits_for_a_person(h: Harness) -> None:
    """Found by the model as a misdirected payment (kept for ops), a rejection, then
    `temporal_cancel`: the financing had ended and waited in `finish` for ops to acknowledge
    the kept payment; the cancellation is raised there, nothing catches it, and the execution
    ends CANCELED. Its record says forever "waiting for ops to acknowledge what was kept for a
    person", and the acknowledgement that would clear it can no longer be sent."""
    no = new_contract(h)
    handle, _ = await h.submit(application_request(no))
    misdirected = _payment(no, "5000.00", date.today(), payment_id="T-MIS", account="9999000011112222")
    await h.signal(handle, names.SIGNAL_TREASURY_PAYMENT, misdirected)
    await h.update(handle, names.UPDATE_DECIDE, Decision(decision="reject", reason="thin file"), ApplicationView)
    await h.until(handle, lambda v: v.waiting_for is not None and "acknowledge" in v.waiting_for)
    await handle.cancel()
    await h.until(handle, lambda v: v.needs_attention)  # the cancellation was seen by now
    described = await handle.describe()
    assert described.status == WorkflowExecutionStatus.RUNNING, described.status
    ack = AttentionAcknowledgement(reason="misdirected:T-MIS", note="returned", recorded_by="ops:ops")
    await h.update(handle, names.UPDATE_ACKNOWLEDGE, ack, ApplicationView)
    assert (await h.final(handle)).stage == Stage.REJECTED


async def test_the_payout_result_and_a_payment_in_one_task(time_skipping_env: WorkflowEnvironment) -> None:
    """The shape of issue 9, as the model drives it (its workflow worker paused): the bank
    answered the payout, the treasury's payment came, and only then does a workflow task run —
    it sees both, signal handlers first, while the workflow is still `disbursing`. The payment
    waits for the loan and is applied once, exactly."""
    d = Driver(time_skipping_env, ModelSystems())
    await d.start()
    try:
        h = d.harness
        no = new_contract(h)
        d.handle, _ = await h.submit(application_request(no))
        await h.update(d.handle, names.UPDATE_DECIDE, APPROVE, ApplicationView)
        payout = d.fakes.hold(steps.DISBURSE)
        await h.signal(d.handle, names.SIGNAL_ACCOUNT_CHANGE, _confirmed(no))
        await d.fakes.arrived[steps.DISBURSE].wait()
        assert await d.settle() == "held"
        await d.stop_workflow_worker()
        payout.set()
        for _ in range(500):  # until the bank's answer is in history
            if not (await d.progress()).activities:
                break
            await asyncio.sleep(0.01)
        await h.signal(d.handle, names.SIGNAL_TREASURY_PAYMENT, _payment(no, "1000000.00", date.today(), "T-1"))
        await d.start_workflow_worker()
        assert await d.settle() == "closed"
        history = [e.event_type for e in (await d.handle.fetch_history()).events]
        answered = history.index(
            EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED, history.index(EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED)
        )
        signalled = history.index(EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED, answered)
        assert EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED not in history[answered:signalled]  # one task
        final = await d.query()
        [paid] = [m for m in final.messages if m.message_id == "T-1"]
        assert final.stage == Stage.SETTLED and paid.outcome == "applied" and len(d.fakes.payouts) == 1
        assert final.surplus_released == Decimal("1000000.00") - final.interest_paid - Decimal("700000.00")
    finally:
        await d.close()
