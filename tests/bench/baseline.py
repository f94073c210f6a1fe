"""The do-nothing baseline: a workflow that issues the commands of a recorded loan's history
(tests/bench/plan.py) with no-op bodies, and the worker that runs it in a process of its own,
as the financing worker runs in its own.

    python -m tests.bench.baseline --address HOST:PORT --task-queue QUEUE   (ZCD_CODEC_KEYS in the env)
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
from collections import Counter
from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import Any

from temporalio import activity, workflow
from temporalio.client import Client
from temporalio.common import RawValue, SearchAttributeKey, SearchAttributeUpdate
from temporalio.worker import Worker

with workflow.unsafe.imports_passed_through():
    from runtime.codec import EncryptionCodec
    from runtime.temporal import data_converter
    from tests.bench import plan as steps
    from workflows import search_attributes as sa

WORKFLOW_TYPE = "BenchBaseline"
STEP = timedelta(seconds=30)
HEARTBEAT = "heartbeat"
_KEYS: dict[str, SearchAttributeKey[Any]] = {key.name: key for key in sa.ALL_KEYS}


@activity.defn(name="bench.noop")
async def noop(arg: str) -> str:
    if arg == HEARTBEAT:
        activity.heartbeat()  # as the payout and the repayment's capture beat while the bank answers
    return arg


def _value(key: SearchAttributeKey[Any], n: int) -> Any:
    if key is sa.STAGE_SINCE:
        return workflow.now()
    if key is sa.NEEDS_ATTENTION:
        return False
    return f"step-{n}"


@workflow.defn(name=WORKFLOW_TYPE)
class BaselineWorkflow:
    def __init__(self) -> None:
        self.accepted: list[str] = []
        self.released: Counter[str] = Counter()
        self.answered: Counter[str] = Counter()
        self.signals: Counter[str] = Counter()

    @workflow.run
    async def run(self, plan: steps.Plan) -> str:
        timers: list[asyncio.Task[None]] = []
        activities: list[asyncio.Future[str]] = []  # tasks, so commands keep the plan's order
        signals_expected: Counter[str] = Counter()
        updates_expected: Counter[str] = Counter()
        for index, batch in enumerate(plan.batches):
            kind, _, name = batch.trigger.partition(":")
            if kind == steps.SIGNAL:
                signals_expected[name] += 1
                await workflow.wait_condition(self._signalled(name, signals_expected[name]))
            elif kind == steps.UPDATE or kind.startswith(steps.START + "+"):
                updates_expected[name] += 1
                await workflow.wait_condition(self._asked(name, updates_expected[name]))
            elif kind == steps.ACTIVITY_DONE and activities:
                await activities.pop(0)
            elif kind == steps.TIMER_FIRED and timers:
                await timers.pop(0)
            for _ in range(batch.cancel_timers):
                if timers:
                    timers.pop(0).cancel()
            for op in batch.ops:
                what, _, arg = op.partition(":")
                if what == steps.LOCAL_ACTIVITY:
                    await workflow.execute_local_activity(noop, "x", start_to_close_timeout=STEP)
                elif what == steps.ACTIVITY:
                    beats = timedelta(seconds=float(arg)) if arg else None
                    call = workflow.execute_activity(
                        noop, HEARTBEAT if beats else "x", start_to_close_timeout=STEP, heartbeat_timeout=beats
                    )
                    activities.append(asyncio.ensure_future(call))
                elif what == steps.TIMER:
                    timers.append(asyncio.ensure_future(workflow.sleep(float(arg or plan.timer_seconds))))
                elif what == steps.UPSERT:
                    updates: list[SearchAttributeUpdate[Any]] = [
                        _KEYS[key].value_set(_value(_KEYS[key], index)) for key in arg.split(",") if key in _KEYS
                    ]
                    workflow.upsert_search_attributes(updates)
                elif what == steps.COMPLETE_UPDATE:
                    self.released[arg] += 1
                elif what == steps.COMPLETE:
                    break
        for timer in timers:
            timer.cancel()
        return "done"

    def _signalled(self, name: str, count: int) -> Callable[[], bool]:
        return lambda: self.signals[name] >= count

    def _asked(self, name: str, count: int) -> Callable[[], bool]:
        return lambda: self.accepted.count(name) >= count

    @workflow.update(dynamic=True)
    async def on_update(self, name: str, args: Sequence[RawValue]) -> str:
        self.accepted.append(name)
        turn = self.accepted.count(name)
        await workflow.wait_condition(lambda: self.released[name] >= turn)
        return "ok"

    @workflow.signal(dynamic=True)
    def on_signal(self, name: str, args: Sequence[RawValue]) -> None:
        self.signals[name] += 1


async def connect(address: str, codec_keys: str) -> Client:
    """The stack's data converter and payload encryption, as the API and the worker use them."""
    codec = EncryptionCodec.from_setting(codec_keys) if codec_keys else None
    return await Client.connect(address, data_converter=data_converter(codec))


async def serve(address: str, task_queue: str) -> None:
    client = await connect(address, os.environ.get("ZCD_CODEC_KEYS", ""))
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    # the financing worker's options: the SDK's defaults
    async with Worker(
        client,
        task_queue=task_queue,
        workflows=[BaselineWorkflow],
        activities=[noop],
        graceful_shutdown_timeout=timedelta(seconds=5),
    ):
        print("polling", flush=True)
        await stop.wait()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--address", required=True)
    parser.add_argument("--task-queue", required=True)
    args = parser.parse_args()
    asyncio.run(serve(args.address, args.task_queue))
