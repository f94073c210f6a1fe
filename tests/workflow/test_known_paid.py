"""Verification counts what the platform knows was paid: a contract the treasury paid through
the platform cannot be financed again in full, even while the procurement system still says
nothing was paid."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from decimal import Decimal

import pytest
from temporalio.client import WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment

from domain.stages import Stage
from tests.workflow.harness import FakeSystems, Harness, application_request, contract, new_worker

D = Decimal


@pytest.fixture
async def h(time_skipping_env: WorkflowEnvironment) -> AsyncIterator[Harness]:
    fakes = FakeSystems()
    queue = f"financing-test-{uuid.uuid4().hex[:8]}"
    async with new_worker(time_skipping_env, fakes, queue):
        yield Harness(time_skipping_env, fakes, queue)


def paid_contract(h: Harness, *, procurement_paid: str, recorded: str) -> str:
    no = f"WX-2026-{uuid.uuid4().hex[:6].upper()}"
    h.fakes.add_contract(contract(no, amount=D("1000000.00"), paid_amount=D(procurement_paid)))
    h.fakes.recorded_payments[no] = D(recorded)
    return no


async def test_a_contract_paid_in_full_through_the_platform_is_not_financed_again(h: Harness) -> None:
    no = paid_contract(h, procurement_paid="0.00", recorded="1000000.00")
    with pytest.raises(WorkflowUpdateFailedError) as refused:
        await h.submit(application_request(no, amount="900000.00"))  # in full, as if unpaid
    cause = refused.value.cause
    assert isinstance(cause, ApplicationError) and cause.type == "validation_error"
    assert not h.fakes.registry.get(no)  # nothing stays registered


@pytest.mark.parametrize(
    ("procurement_paid", "recorded", "maximum"),
    [
        ("0.00", "400000.00", "540000.00"),  # the platform knows more: 0.9 × 600,000
        ("500000.00", "400000.00", "450000.00"),  # the procurement system knows more: 0.9 × 500,000
    ],
)
async def test_the_eligible_maximum_counts_the_larger_of_the_two(
    h: Harness, procurement_paid: str, recorded: str, maximum: str
) -> None:
    no = paid_contract(h, procurement_paid=procurement_paid, recorded=recorded)
    _, view = await h.submit(application_request(no, amount=maximum))
    assert view.stage == Stage.BANK_REVIEW and view.eligible_maximum == D(maximum)
    with pytest.raises(WorkflowUpdateFailedError):
        await h.submit(
            application_request(
                paid_contract(h, procurement_paid=procurement_paid, recorded=recorded),
                amount=str(D(maximum) + D("0.01")),
            )
        )
