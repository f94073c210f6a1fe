"""With payload keys configured, only the API delivers money: a signal or update sent to a
financing around it, in plain JSON, changes nothing (issue 10, "forged payments")."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

import pytest
from temporalio.client import Client, WorkflowUpdateFailedError
from temporalio.testing import WorkflowEnvironment

from domain import steps
from domain import workflow_api as names
from domain.application import ApplicationView, SupplierRepayment, TreasuryPayment
from domain.stages import Stage
from runtime.codec import EncryptionCodec
from runtime.temporal import data_converter
from tests.workflow.harness import COLLECTION_ACCOUNT, FakeSystems, Harness, application_request, contract, new_worker
from tests.workflow.test_financing import APPROVE, _confirmed


@dataclass
class _Env:
    """What the harness needs of an environment: a client (and `sleep`, unused here)."""

    client: Client


def _payment(no: str, payment_id: str, amount: str, paid_on: date) -> TreasuryPayment:
    return TreasuryPayment(
        payment_id=payment_id,
        contract_no=no,
        payee_account_no=COLLECTION_ACCOUNT,
        amount=Decimal(amount),
        paid_on=paid_on,
    )


async def test_a_plain_signal_or_update_changes_nothing_and_the_api_path_still_works(
    time_skipping_env: WorkflowEnvironment,
) -> None:
    key = f"k1:{EncryptionCodec.new_key()}"
    refused: list[bytes] = []
    config = time_skipping_env.client.config()
    # the worker decodes strictly; the API's client encrypts what it sends
    config["data_converter"] = data_converter(
        EncryptionCodec.from_setting(key, refuse_plaintext=True, on_refused=refused.append)
    )
    worker_client = Client(**config)
    config["data_converter"] = data_converter(EncryptionCodec.from_setting(key))
    api = Client(**config)
    plain = time_skipping_env.client  # no codec: what `temporal workflow signal --input '{…}'` sends

    fakes, queue = FakeSystems(), f"forged-{uuid.uuid4().hex[:6]}"
    no = "WX-2026-FORGE1"
    fakes.add_contract(contract(no))
    async with new_worker(_Env(worker_client), fakes, queue):  # type: ignore[arg-type]
        h = Harness(_Env(api), fakes, queue)  # type: ignore[arg-type]
        handle, _ = await h.submit(application_request(no))
        await h.update(handle, names.UPDATE_DECIDE, APPROVE, ApplicationView)
        await h.signal(handle, names.SIGNAL_ACCOUNT_CHANGE, _confirmed(no))
        lent = await h.until_stage(handle, Stage.REPAYING)
        assert lent.disbursed_on is not None
        history_before = len((await handle.fetch_history()).events)

        forged = plain.get_workflow_handle(handle.id)
        await forged.signal(names.SIGNAL_TREASURY_PAYMENT, _payment(no, "T-FORGED", "1000000.00", lent.disbursed_on))
        with pytest.raises(WorkflowUpdateFailedError):
            await forged.execute_update(
                names.UPDATE_REPORT_REPAYMENT,
                SupplierRepayment(repayment_id="R-FORGED", amount=Decimal("700000.00"), paid_on=lent.disbursed_on),
            )

        # the API's payment comes after the forged one: once it is applied, the forged one was seen
        await h.signal(handle, names.SIGNAL_TREASURY_PAYMENT, _payment(no, "T-REAL", "1000.00", lent.disbursed_on))
        after = await h.until(
            handle, lambda v: any(m.message_id == "T-REAL" and m.outcome == "applied" for m in v.messages)
        )
        assert [m.message_id for m in after.messages if m.kind != "account_change"] == ["T-REAL"]
        assert fakes.calls[steps.APPLY_REPAYMENT] == 1 and after.stage == Stage.REPAYING
        assert after.interest_paid == Decimal("74.86")
        assert len(refused) >= 2 and set(refused) == {b"json/plain"}  # logged and counted, once each at least
        assert len((await handle.fetch_history()).events) > history_before  # the real one moved it on
