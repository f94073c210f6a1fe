"""With the codec on the client and worker, Temporal's history holds only ciphertext."""

from __future__ import annotations

import uuid

from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from domain.stages import Stage
from runtime.codec import ENCODING, EncryptionCodec
from runtime.temporal import data_converter
from tests.workflow.harness import FakeSystems, Harness, application_request, contract, new_worker


async def test_history_payloads_are_encrypted(time_skipping_env: WorkflowEnvironment) -> None:
    config = time_skipping_env.client.config()
    config["data_converter"] = data_converter(EncryptionCodec.from_setting(f"k1:{EncryptionCodec.new_key()}"))
    client = Client(**config)

    class EncryptedEnv:  # the harness only needs `.client` (and `.sleep`, unused here)
        pass

    env = EncryptedEnv()
    env.client = client  # type: ignore[attr-defined]
    fakes, queue = FakeSystems(), f"enc-{uuid.uuid4().hex[:6]}"
    fakes.add_contract(contract("WX-2026-ENC001"))
    async with new_worker(env, fakes, queue):  # type: ignore[arg-type]
        h = Harness(env, fakes, queue)  # type: ignore[arg-type]
        handle, view = await h.submit(application_request("WX-2026-ENC001"))
        assert view.stage == Stage.BANK_REVIEW  # decrypted for us, the codec's holder
        history = await handle.fetch_history()
    payloads = []
    for event in history.events:
        for field in ("workflow_execution_started_event_attributes", "activity_task_scheduled_event_attributes"):
            if event.HasField(field):
                payloads += list(getattr(event, field).input.payloads)
    assert payloads, "expected inputs in the history"
    for payload in payloads:
        assert payload.metadata["encoding"] == ENCODING
        assert b"6222020000000001" not in payload.data and "无锡".encode() not in payload.data
