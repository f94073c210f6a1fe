"""The procurement client against the procurement simulator: the dossier, the one active
financing per contract, and the payee-account change with the purchaser's signed answer."""

from __future__ import annotations

import time
from datetime import date
from decimal import Decimal

import httpx
import pytest

from domain.contracts import Contract, ContractStatus
from domain.signing import verify_signature
from domain.steps import idempotency_key
from integrations.errors import ExternalRefusal, ExternalUnavailable
from integrations.procurement import (
    FinancingClaim,
    FinancingRelease,
    OfflineAnswer,
    PayeeChangeRequest,
    PayeeRestoreRequest,
    ProcurementClient,
)
from tests.fixtures.simulators import RunningSimulators, unique

ACCOUNT_CHANGES = "/v1/procurement/account-changes"


def registration(contract: Contract, application_id: str, bank_code: str = "ICBC") -> FinancingClaim:
    return FinancingClaim(
        application_id=application_id,
        bank_code=bank_code,
        supplier_credit_code=contract.supplier.credit_code,
        amount=Decimal("700000.00"),
    )


def payee_change(application_id: str, account_no: str = "6222020000000001") -> PayeeChangeRequest:
    return PayeeChangeRequest(
        application_id=application_id,
        account_no=account_no,
        account_name="无锡某某科技有限公司",
        bank_code="ICBC",
    )


async def test_the_dossier_has_the_contract_the_history_and_no_financing(
    simulators: RunningSimulators, procurement: ProcurementClient
) -> None:
    contract = await simulators.new_contract()
    dossier = await procurement.fetch_dossier(contract.contract_no)

    assert dossier.contract == contract
    assert contract.contract_no in {c.contract_no for c in dossier.history}
    assert dossier.financing is None


async def test_a_suppliers_contracts_are_listed_newest_first(
    simulators: RunningSimulators, procurement: ProcurementClient
) -> None:
    older = await simulators.new_contract()
    newer = await simulators.new_contract(supplier=older.supplier, signed_on=date(2026, 10, 15))
    await simulators.new_contract()  # another supplier's
    listed = await procurement.supplier_contracts(older.supplier.credit_code)
    assert [c.contract_no for c in listed] == [newer.contract_no, older.contract_no]
    assert listed[1] == older
    assert await procurement.supplier_contracts("91320200MA2NQ7PL0X") == []


async def test_an_unknown_contract_is_contract_not_found(procurement: ProcurementClient) -> None:
    with pytest.raises(ExternalRefusal) as refused:
        await procurement.fetch_dossier("WX-NO-SUCH-CONTRACT")
    assert refused.value.code == "contract_not_found"
    assert refused.value.status == 404


async def test_one_active_financing_per_contract(simulators: RunningSimulators, procurement: ProcurementClient) -> None:
    contract = await simulators.new_contract()
    first, second = unique("APP"), unique("APP")
    contract_no = contract.contract_no
    record = await procurement.register_financing(
        contract_no, registration(contract, first), idempotency_key(first, "register")
    )
    again = await procurement.register_financing(contract_no, registration(contract, first), "another-key-" + first)
    assert again == record
    assert (await procurement.fetch_dossier(contract_no)).financing == record

    with pytest.raises(ExternalRefusal) as refused:
        await procurement.register_financing(
            contract_no, registration(contract, second, "BOC"), idempotency_key(second, "register")
        )
    assert refused.value.code == "contract_already_financed"
    assert refused.value.status == 409
    assert refused.value.extra["holder"]["application_id"] == first

    release = FinancingRelease(reason="withdrawn")
    await procurement.release_financing(contract_no, first, release, idempotency_key(first, "release"))
    await procurement.release_financing(contract_no, first, release, idempotency_key(first, "release"))
    assert await procurement.get_financing(contract_no) is None

    # the refusal was not remembered: the same key now registers the second application
    await procurement.register_financing(
        contract_no, registration(contract, second, "BOC"), idempotency_key(second, "register")
    )
    assert (await procurement.get_financing(contract_no)) is not None


async def test_releasing_what_is_not_held_is_a_no_op(procurement: ProcurementClient) -> None:
    application_id = unique("APP")
    release = FinancingRelease(reason="undo")
    await procurement.release_financing(
        "WX-NEVER-REGISTERED", application_id, release, idempotency_key(application_id, "release")
    )


async def test_a_contract_that_is_not_effective_cannot_be_financed(
    simulators: RunningSimulators, procurement: ProcurementClient
) -> None:
    contract = await simulators.new_contract(status=ContractStatus.TERMINATED)
    application_id = unique("APP")
    with pytest.raises(ExternalRefusal) as refused:
        await procurement.register_financing(
            contract.contract_no, registration(contract, application_id), application_id
        )
    assert refused.value.code == "invalid_state"


async def test_payee_change_confirmed_online_then_restored(
    simulators: RunningSimulators, procurement: ProcurementClient
) -> None:
    contract = await simulators.new_contract()
    application_id = unique("APP")
    change = payee_change(application_id)
    key = idempotency_key(application_id, "payee-change")
    ack = await procurement.request_payee_change(contract.contract_no, change, key)
    assert ack.previous_account_no == contract.payee_account_no
    assert await procurement.request_payee_change(contract.contract_no, change, key) == ack

    response = await simulators.hook(
        "procurement", "POST", f"/sim/contracts/{contract.contract_no}/account-change", {"decision": "confirmed"}
    )
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["platform_status"] == "accepted"
    assert answer["platform_http_status"] == 200

    [callback] = simulators.stub.callbacks(ACCOUNT_CHANGES, contract_no=contract.contract_no)
    assert verify_signature(callback.signature, callback.body, [simulators.settings.procurement_secret], time.time())
    assert not verify_signature(callback.signature, callback.body, ["another-secret"], time.time())
    assert callback.json["event_id"] == answer["event_id"]
    assert callback.json["decision"] == "confirmed"
    assert set(callback.json) == {"event_id", "contract_no", "decision", "decided_at"}
    assert (await procurement.get_contract(contract.contract_no)).payee_account_no == change.account_no

    restore = PayeeRestoreRequest(application_id=application_id, reason="settled")
    await procurement.restore_payee_account(
        contract.contract_no, restore, idempotency_key(application_id, "payee-restore")
    )
    await procurement.restore_payee_account(
        contract.contract_no, restore, idempotency_key(application_id, "payee-restore")
    )
    assert (await procurement.get_contract(contract.contract_no)).payee_account_no == contract.payee_account_no


async def test_a_pending_change_blocks_another_applications_change(
    simulators: RunningSimulators, procurement: ProcurementClient
) -> None:
    contract = await simulators.new_contract()
    first, second = unique("APP"), unique("APP")
    contract_no = contract.contract_no
    await procurement.request_payee_change(contract_no, payee_change(first), idempotency_key(first, "payee-change"))
    with pytest.raises(ExternalRefusal) as refused:
        await procurement.request_payee_change(
            contract_no, payee_change(second, "6222020000000099"), idempotency_key(second, "payee-change")
        )
    assert refused.value.code == "invalid_state"

    # restoring a pending change cancels it; the contract's account never changed
    restore = PayeeRestoreRequest(application_id=first, reason="refused by bank")
    await procurement.restore_payee_account(contract_no, restore, idempotency_key(first, "payee-restore"))
    assert (await procurement.get_contract(contract_no)).payee_account_no == contract.payee_account_no
    await procurement.request_payee_change(
        contract_no, payee_change(second, "6222020000000099"), idempotency_key(second, "payee-change")
    )


async def test_an_offline_answer_is_applied_without_a_callback(
    simulators: RunningSimulators, procurement: ProcurementClient
) -> None:
    contract = await simulators.new_contract()
    application_id = unique("APP")
    contract_no = contract.contract_no
    change = payee_change(application_id)
    await procurement.request_payee_change(contract_no, change, idempotency_key(application_id, "payee-change"))
    answer = OfflineAnswer(decision="confirmed", note="by phone")
    await procurement.record_offline_answer(
        contract_no, application_id, answer, idempotency_key(application_id, "offline-answer")
    )
    await procurement.record_offline_answer(contract_no, application_id, answer, "a-retry-with-another-key")

    assert (await procurement.get_contract(contract_no)).payee_account_no == change.account_no
    assert simulators.stub.callbacks(ACCOUNT_CHANGES, contract_no=contract_no) == []
    contradiction = answer.model_copy(update={"decision": "refused"})
    with pytest.raises(ExternalRefusal) as refused:
        await procurement.record_offline_answer(
            contract_no, application_id, contradiction, "contradicting-" + application_id
        )
    assert refused.value.code == "invalid_state"


async def test_an_offline_answer_without_a_change_is_invalid_state(
    simulators: RunningSimulators, procurement: ProcurementClient
) -> None:
    contract = await simulators.new_contract()
    application_id = unique("APP")
    answer = OfflineAnswer(decision="refused")
    with pytest.raises(ExternalRefusal) as refused:
        await procurement.record_offline_answer(
            contract.contract_no, application_id, answer, idempotency_key(application_id, "offline-answer")
        )
    assert refused.value.code == "invalid_state"


async def test_an_outage_is_unavailable(simulators: RunningSimulators, procurement: ProcurementClient) -> None:
    contract = await simulators.new_contract()
    async with simulators.faults("procurement", outage=True):
        with pytest.raises(ExternalUnavailable):
            await procurement.fetch_dossier(contract.contract_no)


async def test_a_shared_http_client_is_lent_not_closed(simulators: RunningSimulators) -> None:
    contract = await simulators.new_contract()
    async with httpx.AsyncClient() as shared:
        async with ProcurementClient(simulators.procurement_url, shared) as first:
            assert (await first.get_contract(contract.contract_no)) == contract
        assert not shared.is_closed
        second = ProcurementClient.from_settings(simulators.settings, http=shared)
        assert (await second.get_contract(contract.contract_no)) == contract


@pytest.mark.parametrize("contract_no", ["..", ".", "WX.2026..1", "%2F", "a?b#c"])
async def test_a_contract_number_reaches_the_system_as_itself(
    simulators: RunningSimulators, procurement: ProcurementClient, contract_no: str
) -> None:
    """Dot segments are encoded (URL normalisation would turn "/contracts/.." into "/"), and a
    404 from the system is the contract's own code, whatever path it answered for."""
    with pytest.raises(ExternalRefusal) as refused:
        await procurement.fetch_dossier(contract_no)
    assert refused.value.code == "contract_not_found" and refused.value.status == 404
    created = await simulators.new_contract(contract_no=f"WX.{unique('DOT')}..x")
    assert (await procurement.get_contract(created.contract_no)).contract_no == created.contract_no
