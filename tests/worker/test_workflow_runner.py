"""The worker runs the financing in a sandbox that passes its pure modules through and keeps a
bounded cache of open loans (worker/main.py). The workflow tests use the strict default
sandbox; these run loans on the production runner, including with a cache so small that every
task replays the loan from its history."""

from __future__ import annotations

import uuid
from decimal import Decimal as D

from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from domain import workflow_api as names
from domain.application import ApplicationView
from domain.stages import Stage
from tests.workflow.harness import FakeSystems, Harness, application_request, contract
from tests.workflow.test_financing import APPROVE, _confirmed, _payment
from worker.main import PASSED_THROUGH, workflow_runner
from workflows.financing import FinancingWorkflow


async def test_loans_settle_to_the_fen_on_the_production_runner_with_a_cache_of_one(
    dev_server_env: WorkflowEnvironment,
) -> None:
    fakes, queue = FakeSystems(), f"runner-{uuid.uuid4().hex[:6]}"
    numbers = [f"WX-2026-R{uuid.uuid4().hex[:6]}" for _ in range(2)]
    for no in numbers:
        fakes.add_contract(contract(no))
    worker = Worker(
        dev_server_env.client,
        task_queue=queue,
        workflows=[FinancingWorkflow],
        activities=fakes.activities(),
        workflow_runner=workflow_runner(),
        max_cached_workflows=1,  # two loans take turns: each task of one evicts the other
    )
    async with worker:
        h = Harness(dev_server_env, fakes, queue)
        # the loans take turns at every step, so each task finds the other loan in the cache
        # and this one replayed from its history
        handles = [(await h.submit(application_request(no, "700000.00")))[0] for no in numbers]
        approve = APPROVE.model_copy(update={"approved_amount": D("700000.00")})
        for handle in handles:
            await h.update(handle, names.UPDATE_DECIDE, approve, ApplicationView)
        for no, handle in zip(numbers, handles, strict=True):
            await h.signal(handle, names.SIGNAL_ACCOUNT_CHANGE, _confirmed(no))
        views = [await h.until_stage(handle, Stage.REPAYING) for handle in handles]
        for no, handle, view in zip(numbers, handles, views, strict=True):
            await h.signal(handle, names.SIGNAL_TREASURY_PAYMENT, _payment(no, "1000000.00", view.disbursed_on))
        finals = [await h.final(handle) for handle in handles]
    for final in finals:
        assert final.stage == Stage.SETTLED
        assert (final.interest_paid, final.principal_repaid, final.surplus_released) == (
            D("74.86"),
            D("700000.00"),
            D("299925.14"),
        )
    assert len(fakes.payouts) == 2


def test_only_the_financing_package_and_its_search_attributes_pass_through() -> None:
    # activities, integrations and store do I/O: none of them may ever run inside a workflow
    assert all(
        name == "workflows.search_attributes" or name.startswith("workflows.financing") for name in PASSED_THROUGH
    )
