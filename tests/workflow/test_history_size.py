"""What one happy-path loan costs Temporal: its history as the server stores it, with the
payloads encrypted as in production (issue 11: <= 60 events and <= 16 KB, the protobuf size
of the events). The breakdown by event type is printed, so a change that grows the history
shows where."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from decimal import Decimal as D
from typing import Any

from temporalio.api.enums.v1 import EventType
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from domain import workflow_api as names
from domain.application import ApplicationView
from domain.stages import Stage
from runtime.codec import EncryptionCodec
from runtime.temporal import data_converter
from tests.workflow.harness import FakeSystems, Harness, application_request, contract, new_worker
from tests.workflow.test_financing import APPROVE, _confirmed, _payment

MAX_EVENTS = 60
MAX_BYTES = 16 * 1024


async def _recorded_stage(fakes: FakeSystems, workflow_id: str, stage: Stage) -> ApplicationView:
    """Wait (bounded) for the record to show `stage`, as a bank polls GET: a query would add a
    workflow task of its own while local activities run, which no caller of the platform causes."""
    application_id = names.application_id_of(workflow_id)
    for _ in range(400):
        view = fakes.views.get(application_id)
        if view is not None and view.stage == stage:
            return view
        await asyncio.sleep(0.025)
    raise AssertionError(f"the record never showed {stage}")


async def _task_done(handle: Any) -> None:
    """Wait (bounded) until the workflow has no task in flight: a signal that arrives while one
    runs makes a task of its own, a timing a loan paid days later never has."""
    for _ in range(400):
        description = await handle.describe()
        if not description.raw_description.HasField("pending_workflow_task"):
            return
        await asyncio.sleep(0.025)
    raise AssertionError("the workflow task never finished")


class _EncryptedEnv:
    """The harness needs only `.client` of its environment."""

    def __init__(self, client: Client) -> None:
        self.client = client


async def test_happy_path_history_fits(dev_server_env: WorkflowEnvironment) -> None:
    config = dev_server_env.client.config()
    config["data_converter"] = data_converter(EncryptionCodec.from_setting(f"k1:{EncryptionCodec.new_key()}"))
    env = _EncryptedEnv(Client(**config))
    fakes, queue, no = FakeSystems(), f"size-{uuid.uuid4().hex[:6]}", f"WX-2026-S{uuid.uuid4().hex[:5]}"
    fakes.add_contract(contract(no))
    async with new_worker(env, fakes, queue):  # type: ignore[arg-type]
        h = Harness(env, fakes, queue)  # type: ignore[arg-type]
        handle, _ = await h.submit(application_request(no, "700000.00"))
        decision = APPROVE.model_copy(update={"approved_amount": D("700000.00")})
        await h.update(handle, names.UPDATE_DECIDE, decision, ApplicationView)
        await h.signal(handle, names.SIGNAL_ACCOUNT_CHANGE, _confirmed(no))
        view = await _recorded_stage(fakes, handle.id, Stage.REPAYING)
        await _task_done(handle)  # as a bank's payment comes long after: not inside that task
        await h.signal(handle, names.SIGNAL_TREASURY_PAYMENT, _payment(no, "1000000.00", view.disbursed_on))
        final = await h.final(handle)
        assert final.stage == Stage.SETTLED
        history = await handle.fetch_history()
    counts: Counter[str] = Counter()
    sizes: Counter[str] = Counter()
    for event in history.events:
        name = EventType.Name(event.event_type).removeprefix("EVENT_TYPE_")
        counts[name] += 1
        sizes[name] += event.ByteSize()
    total = sum(sizes.values())
    breakdown = "\n".join(f"{name:50} {counts[name]:3} {sizes[name]:7}" for name, _ in sizes.most_common())
    print(f"\n{breakdown}\n{'total':50} {len(history.events):3} {total:7}")
    assert len(history.events) <= MAX_EVENTS, breakdown
    assert total <= MAX_BYTES, breakdown
