"""Record the happy-path history the replay test guards: `python -m tests.replay.record`.

Re-record only when a change to the workflow is *meant* to change its commands (and then
keep the old file too, or patch the change with `workflow.patched`): a history recorded by
the code that runs in production is what a non-deterministic change would break."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

from temporalio.testing import WorkflowEnvironment

from domain import workflow_api as names
from tests.fixtures.temporal import register_search_attributes
from tests.workflow.harness import FakeSystems, Harness, new_worker
from tests.workflow.test_financing import _payment, approved_and_locked
from worker.client import data_converter, temporal_test_server_path

HISTORY_FILE = Path(__file__).parent / "histories" / "happy_path.json"


async def record() -> None:
    env = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=temporal_test_server_path(), data_converter=data_converter()
    )
    try:
        await register_search_attributes(env)
        fakes, queue = FakeSystems(), f"record-{uuid.uuid4().hex[:6]}"
        async with new_worker(env, fakes, queue):
            h = Harness(env, fakes, queue)
            no, handle, view = await approved_and_locked(h)
            await h.signal(handle, names.SIGNAL_TREASURY_PAYMENT, _payment(no, "1000000.00", view.disbursed_on))
            await handle.result()
            history = await handle.fetch_history()
        HISTORY_FILE.write_text(history.to_json())
        print(f"recorded {len(history.events)} events to {HISTORY_FILE}")
    finally:
        await env.shutdown()


if __name__ == "__main__":
    asyncio.run(record())
