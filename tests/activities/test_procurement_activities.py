"""ProcurementActivities against the procurement simulator and the platform's registry."""

from __future__ import annotations

from decimal import Decimal

import pytest
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.procurement import ProcurementActivities
from domain import steps
from domain.contracts import Contract
from domain.errors import ErrorCode
from store.registry import RegistryRepository
from tests.fixtures.simulators import RunningSimulators, unique


def registration(contract: Contract, application_id: str, **fields: object) -> steps.Registration:
    return steps.Registration(
        application_id=application_id,
        bank_code="ICBC",
        contract_no=contract.contract_no,
        supplier_credit_code=contract.supplier.credit_code,
        amount=Decimal("700000.00"),
        **fields,
    )


def payee_change(contract: Contract, application_id: str, account_no: str) -> steps.PayeeChange:
    return steps.PayeeChange(
        application_id=application_id,
        contract_no=contract.contract_no,
        account_no=account_no,
        account_name="无锡某某科技有限公司",
        bank_code="ICBC",
    )


async def sim_contract(simulators: RunningSimulators, contract_no: str) -> dict[str, object]:
    response = await simulators.hook("procurement", "GET", f"/sim/contracts/{contract_no}")
    assert response.status_code == 200, response.text
    state: dict[str, object] = response.json()
    return state


async def test_fetch_dossier_returns_contract_history_and_credit_profile(
    env: ActivityEnvironment, procurement: ProcurementActivities, simulators: RunningSimulators
) -> None:
    contract = await simulators.new_contract()
    request = steps.DossierRequest(application_id=unique("app"), contract_no=contract.contract_no)

    dossier = await env.run(procurement.fetch_dossier, request)

    assert dossier.dossier.contract == contract
    assert dossier.dossier.financing is None
    # the simulator makes up a history for every supplier: the profile is built from it, and the
    # list itself is not carried into the workflow's history
    assert dossier.credit_profile.contracts_won > 0
    assert dossier.dossier.history == []
    assert 0 <= dossier.credit_profile.score <= 100


async def test_unknown_contract_is_a_final_contract_not_found(
    env: ActivityEnvironment, procurement: ProcurementActivities
) -> None:
    request = steps.DossierRequest(application_id=unique("app"), contract_no=unique("WX-NONE"))

    with pytest.raises(ApplicationError) as raised:
        await env.run(procurement.fetch_dossier, request)

    assert raised.value.type == ErrorCode.CONTRACT_NOT_FOUND.value == "contract_not_found"
    assert raised.value.non_retryable


async def test_register_claims_registry_and_procurement_and_refuses_a_second_application(
    env: ActivityEnvironment,
    procurement: ProcurementActivities,
    registry: RegistryRepository,
    simulators: RunningSimulators,
) -> None:
    contract = await simulators.new_contract()
    first, second = unique("app"), unique("app")
    claim = registration(contract, first, collection_account_no="6222020000000002")

    await env.run(procurement.register_financing, claim)
    await env.run(procurement.register_financing, claim)  # a retry is harmless

    holder = await registry.holder(contract.contract_no)
    assert holder is not None and holder.application_id == first
    # the registry keeps the account that becomes the locked payee account: payments are routed by it
    assert holder.collection_account_no == "6222020000000002"
    financing = (await sim_contract(simulators, contract.contract_no))["financing"]
    assert isinstance(financing, dict) and financing["application_id"] == first

    with pytest.raises(ApplicationError) as raised:
        await env.run(procurement.register_financing, registration(contract, second))
    assert raised.value.type == "contract_already_financed"
    assert raised.value.non_retryable
    holder = await registry.holder(contract.contract_no)
    assert holder is not None and holder.application_id == first


async def test_release_is_idempotent_and_frees_the_contract(
    env: ActivityEnvironment,
    procurement: ProcurementActivities,
    registry: RegistryRepository,
    simulators: RunningSimulators,
) -> None:
    contract = await simulators.new_contract()
    first, second = unique("app"), unique("app")
    await env.run(procurement.register_financing, registration(contract, first))
    release = steps.Release(application_id=first, contract_no=contract.contract_no, reason="withdrawn")

    await env.run(procurement.release_financing, release)
    await env.run(procurement.release_financing, release)
    # releasing what this application never held is a no-op too
    await env.run(
        procurement.release_financing,
        steps.Release(application_id=second, contract_no=contract.contract_no, reason="undo"),
    )

    assert await registry.holder(contract.contract_no) is None
    assert (await sim_contract(simulators, contract.contract_no))["financing"] is None
    await env.run(procurement.register_financing, registration(contract, second))
    holder = await registry.holder(contract.contract_no)
    assert holder is not None and holder.application_id == second


async def test_payee_change_is_pending_then_restore_puts_back_the_original_account(
    env: ActivityEnvironment,
    procurement: ProcurementActivities,
    simulators: RunningSimulators,
) -> None:
    contract = await simulators.new_contract()
    app_id = unique("app")
    await env.run(procurement.register_financing, registration(contract, app_id))
    change = payee_change(contract, app_id, "6222020000000002")

    ack = await env.run(procurement.request_payee_change, change)
    again = await env.run(procurement.request_payee_change, change)

    assert again == ack
    assert ack.previous_account_no == contract.payee_account_no
    state = await sim_contract(simulators, contract.contract_no)
    changes = state["payee_changes"]
    assert isinstance(changes, list) and len(changes) == 1
    assert changes[0]["status"] == "pending" and changes[0]["account_no"] == "6222020000000002"

    # the purchaser confirms; restoring puts the original account back
    decided = await simulators.hook(
        "procurement", "POST", f"/sim/contracts/{contract.contract_no}/account-change", {"decision": "confirmed"}
    )
    assert decided.status_code == 200, decided.text
    state = await sim_contract(simulators, contract.contract_no)
    assert isinstance(state["contract"], dict) and state["contract"]["payee_account_no"] == "6222020000000002"

    restore = steps.PayeeRestore(application_id=app_id, contract_no=contract.contract_no, reason="failed")
    await env.run(procurement.restore_payee_account, restore)
    await env.run(procurement.restore_payee_account, restore)

    state = await sim_contract(simulators, contract.contract_no)
    assert isinstance(state["contract"], dict)
    assert state["contract"]["payee_account_no"] == contract.payee_account_no
    changes = state["payee_changes"]
    assert isinstance(changes, list) and changes[-1]["status"] == "restored"


async def test_restore_cancels_a_pending_change(
    env: ActivityEnvironment, procurement: ProcurementActivities, simulators: RunningSimulators
) -> None:
    contract = await simulators.new_contract()
    app_id = unique("app")
    change = payee_change(contract, app_id, "6222020000000003")
    await env.run(procurement.request_payee_change, change)

    await env.run(
        procurement.restore_payee_account,
        steps.PayeeRestore(application_id=app_id, contract_no=contract.contract_no, reason="withdrawn"),
    )

    state = await sim_contract(simulators, contract.contract_no)
    assert isinstance(state["contract"], dict)
    assert state["contract"]["payee_account_no"] == contract.payee_account_no
    changes = state["payee_changes"]
    assert isinstance(changes, list) and [c["status"] for c in changes] == ["cancelled"]


@pytest.mark.parametrize("note", ["the purchaser confirmed by phone", None])
async def test_an_offline_answer_reaches_the_system_with_or_without_a_note(
    env: ActivityEnvironment, procurement: ProcurementActivities, simulators: RunningSimulators, note: str | None
) -> None:
    """Ops may record an answer without a note: the step's optional note stays optional on the wire."""
    contract = await simulators.new_contract()
    app_id = unique("app")
    change = payee_change(contract, app_id, "6222020000000004")
    await env.run(procurement.request_payee_change, change)
    answer = steps.OfflineAnswerRecord(
        application_id=app_id, contract_no=contract.contract_no, decision="confirmed", note=note
    )

    await env.run(procurement.record_offline_answer, answer)
    await env.run(procurement.record_offline_answer, answer)  # a retry is harmless

    state = await sim_contract(simulators, contract.contract_no)
    assert isinstance(state["contract"], dict) and state["contract"]["payee_account_no"] == "6222020000000004"
    changes = state["payee_changes"]
    assert isinstance(changes, list) and len(changes) == 1
    assert changes[0]["status"] == "confirmed" and changes[0]["decided_via"] == "offline"
    assert changes[0]["note"] == note
