"""Loans per second on the dev server: the financing engine against a do-nothing workflow with
the same Temporal steps (a local activity, 6 sequential + 3 parallel activities, the same
update-with-start, update and two signals), in the same run. DESIGN.md asks for >= 0.8x.

    python -m tests.bench.throughput [--loans 60] [--concurrency 20]

Activities are the in-memory fakes of the workflow tests, so the figure is Temporal's cost
and the workflow's own, not the external systems'."""

from __future__ import annotations

import argparse
import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import timedelta
from decimal import Decimal

from temporalio import activity, workflow
from temporalio.client import Client, WithStartWorkflowOperation
from temporalio.common import WorkflowIDConflictPolicy
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from domain import workflow_api as names
from domain.application import AccountChangeEvent, ApplicationView, Decision, TreasuryPayment
from domain.stages import Stage
from tests.workflow.harness import COLLECTION_ACCOUNT, FakeSystems, Harness, application_request, contract
from worker.client import data_converter, temporal_cli_path
from workflows import search_attributes as sa
from workflows.financing import FinancingWorkflow


@activity.defn(name="noop")
async def noop(arg: str) -> str:
    return arg


STEP = timedelta(seconds=30)


async def _step(arg: str) -> str:
    return await workflow.execute_activity(noop, arg, start_to_close_timeout=STEP)


@workflow.defn(name="Baseline")
class BaselineWorkflow:
    def __init__(self) -> None:
        self._decided = False
        self._signals = 0

    @workflow.run
    async def run(self, arg: str) -> str:
        await workflow.execute_local_activity(noop, arg, start_to_close_timeout=STEP)
        for _ in range(2):
            await _step(arg)
        await workflow.wait_condition(lambda: self._decided)
        await _step(arg)
        await workflow.wait_condition(lambda: self._signals >= 1)
        for _ in range(2):
            await _step(arg)
        await workflow.wait_condition(lambda: self._signals >= 2)
        await _step(arg)
        await asyncio.gather(*(_step(arg) for _ in range(3)))
        return arg

    @workflow.update
    async def submitted(self) -> str:
        await workflow.wait_condition(lambda: True)
        return "ok"

    @workflow.update
    async def decide(self) -> str:
        self._decided = True
        return "ok"

    @workflow.signal
    def poke(self) -> None:
        self._signals += 1


async def _baseline_loan(client: Client, queue: str) -> None:
    wid = f"baseline-{uuid.uuid4().hex}"
    start: WithStartWorkflowOperation[BaselineWorkflow, str] = WithStartWorkflowOperation(
        BaselineWorkflow.run, "x", id=wid, task_queue=queue, id_conflict_policy=WorkflowIDConflictPolicy.FAIL
    )
    await client.execute_update_with_start_workflow(BaselineWorkflow.submitted, start_workflow_operation=start)
    handle = await start.workflow_handle()
    await handle.execute_update(BaselineWorkflow.decide)
    await handle.signal(BaselineWorkflow.poke)
    await handle.signal(BaselineWorkflow.poke)
    await handle.result()


async def _financing_loan(h: Harness) -> None:
    no = f"WX-B-{uuid.uuid4().hex[:10]}"
    h.fakes.add_contract(contract(no))
    handle, _ = await h.submit(application_request(no))
    approve = Decision(
        decision="approve", approved_amount=Decimal("700000.00"), annual_rate=Decimal("0.0385"), term_days=180
    )
    await handle.execute_update(names.UPDATE_DECIDE, approve, result_type=ApplicationView)
    event = AccountChangeEvent.model_validate(
        {
            "event_id": uuid.uuid4().hex,
            "contract_no": no,
            "decision": "confirmed",
            "decided_at": "2026-11-27T10:00:00+08:00",
        }
    )
    await handle.signal(names.SIGNAL_ACCOUNT_CHANGE, event)
    view = await h.until_stage(handle, Stage.REPAYING)
    assert view.disbursed_on is not None
    payment = TreasuryPayment(
        payment_id=uuid.uuid4().hex,
        contract_no=no,
        payee_account_no=COLLECTION_ACCOUNT,
        amount=Decimal("1000000.00"),
        paid_on=view.disbursed_on,
    )
    await handle.signal(names.SIGNAL_TREASURY_PAYMENT, payment)
    await handle.result()


async def _timed(count: int, concurrency: int, one: Callable[[], Awaitable[None]]) -> float:
    gate = asyncio.Semaphore(concurrency)

    async def guarded() -> None:
        async with gate:
            await one()

    started = time.perf_counter()
    await asyncio.gather(*(guarded() for _ in range(count)))
    return count / (time.perf_counter() - started)


async def main(loans: int, concurrency: int) -> None:
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=temporal_cli_path(),
        data_converter=data_converter(),
        search_attributes=sa.ALL_KEYS,
        dev_server_log_level="error",
    )
    try:
        fakes, queue = FakeSystems(), f"bench-{uuid.uuid4().hex[:6]}"
        async with (
            Worker(
                env.client,
                task_queue=queue,
                workflows=[FinancingWorkflow, BaselineWorkflow],
                activities=[*fakes.activities(), noop],
            ),
        ):
            h = Harness(env, fakes, queue)
            await _timed(5, 5, lambda: _financing_loan(h))  # warm-up
            await _timed(5, 5, lambda: _baseline_loan(env.client, queue))
            baseline = await _timed(loans, concurrency, lambda: _baseline_loan(env.client, queue))
            engine = await _timed(loans, concurrency, lambda: _financing_loan(h))
        print(f"loans: {loans}, concurrency: {concurrency}, dev server in memory")
        print(f"baseline (same Temporal steps, no work): {baseline:6.2f} loans/s")
        print(f"financing engine:                        {engine:6.2f} loans/s")
        print(f"ratio: {engine / baseline:.2f}  (DESIGN.md target >= 0.80)")
    finally:
        await env.shutdown()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--loans", type=int, default=60)
    parser.add_argument("--concurrency", type=int, default=20)
    args = parser.parse_args()
    asyncio.run(main(args.loans, args.concurrency))
