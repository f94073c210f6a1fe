"""The procurement simulator: stable supplier histories, the test hooks of API.md, and the
signed callback that reports the purchaser's answer."""

from __future__ import annotations

from typing import Any

from domain.contracts import ContractStatus, PastContract
from domain.credit_profile import build_credit_profile
from simulators.history import generated_history
from tests.fixtures.simulators import RunningSimulators, supplier_credit_code, unique

ACCOUNT_CHANGES = "/v1/procurement/account-changes"


def test_a_history_is_stable_and_plausible() -> None:
    code = supplier_credit_code(12345678)
    history = generated_history(code)
    assert history == generated_history(code)
    assert all(c.amount > 0 and c.amount.as_tuple().exponent == -2 for c in history)
    sizes = {len(generated_history(supplier_credit_code(n))) for n in range(40)}
    assert min(sizes) < 5 < max(sizes)  # suppliers differ, so their credit profiles do
    grades = {build_credit_profile(generated_history(supplier_credit_code(n))).grade for n in range(40)}
    assert len(grades) >= 3


async def test_the_history_includes_the_suppliers_contracts_and_can_be_replaced(simulators: RunningSimulators) -> None:
    contract = await simulators.new_contract()
    code = contract.supplier.credit_code
    response = await simulators.hook("procurement", "GET", f"/suppliers/{code}/contracts")
    items = [PastContract.model_validate(item) for item in response.json()["items"]]
    assert len(items) == len(generated_history(code)) + 1

    replaced = await simulators.hook("procurement", "PUT", f"/sim/suppliers/{code}/history", {"items": []})
    assert [c["contract_no"] for c in replaced.json()["items"]] == [contract.contract_no]


async def test_an_unknown_contract_is_contract_not_found(simulators: RunningSimulators) -> None:
    response = await simulators.hook("procurement", "GET", "/contracts/WX-UNKNOWN")
    assert response.status_code == 404
    assert response.json()["code"] == "contract_not_found"
    decided = await simulators.hook(
        "procurement", "POST", "/sim/contracts/WX-UNKNOWN/account-change", {"decision": "confirmed"}
    )
    assert decided.json()["code"] == "contract_not_found"


async def request_change(simulators: RunningSimulators, contract_no: str, application_id: str) -> Any:
    body = {
        "application_id": application_id,
        "account_no": "6222020000000001",
        "account_name": "某某",
        "bank_code": "ICBC",
    }
    response = await simulators.http.post(
        f"{simulators.procurement_url}/contracts/{contract_no}/payee-change",
        json=body,
        headers={"Idempotency-Key": f"change-{application_id}"},
    )
    assert response.status_code == 202, response.text
    return response.json()


async def test_an_answer_with_no_pending_change_is_409(simulators: RunningSimulators) -> None:
    contract = await simulators.new_contract()
    response = await simulators.hook(
        "procurement", "POST", f"/sim/contracts/{contract.contract_no}/account-change", {"decision": "refused"}
    )
    assert response.status_code == 409
    assert response.json()["code"] == "invalid_state"


async def test_a_refusal_is_reported_and_leaves_the_account(simulators: RunningSimulators) -> None:
    contract = await simulators.new_contract()
    await request_change(simulators, contract.contract_no, unique("APP"))
    response = await simulators.hook(
        "procurement", "POST", f"/sim/contracts/{contract.contract_no}/account-change", {"decision": "refused"}
    )
    assert response.json()["platform_status"] == "accepted"
    [callback] = simulators.stub.callbacks(ACCOUNT_CHANGES, contract_no=contract.contract_no)
    assert callback.json["decision"] == "refused"
    shown = await simulators.hook("procurement", "GET", f"/contracts/{contract.contract_no}")
    assert shown.json()["payee_account_no"] == contract.payee_account_no


async def test_a_failed_callback_is_retried(simulators: RunningSimulators) -> None:
    contract = await simulators.new_contract()
    await request_change(simulators, contract.contract_no, unique("APP"))
    simulators.stub.fail_next = 1
    response = await simulators.hook(
        "procurement", "POST", f"/sim/contracts/{contract.contract_no}/account-change", {"decision": "confirmed"}
    )
    assert response.json()["platform_status"] == "accepted"
    deliveries = [r for r in simulators.stub.received if r.json.get("contract_no") == contract.contract_no]
    assert len(deliveries) == 2
    assert deliveries[0].body == deliveries[1].body


async def test_an_unanswered_callback_can_be_redelivered(simulators: RunningSimulators) -> None:
    contract = await simulators.new_contract()
    await request_change(simulators, contract.contract_no, unique("APP"))
    async with simulators.callbacks_to("http://127.0.0.1:9"):
        lost = await simulators.hook(
            "procurement", "POST", f"/sim/contracts/{contract.contract_no}/account-change", {"decision": "confirmed"}
        )
    assert lost.json()["platform_status"] is None
    assert lost.json()["platform_http_status"] is None
    # the decision was taken all the same
    shown = await simulators.hook("procurement", "GET", f"/contracts/{contract.contract_no}")
    assert shown.json()["payee_account_no"] == "6222020000000001"

    event_id = lost.json()["event_id"]
    redelivered = await simulators.hook("procurement", "POST", f"/sim/events/{event_id}/redeliver")
    assert redelivered.json()["platform_status"] == "accepted"
    again = await simulators.hook("procurement", "POST", f"/sim/events/{event_id}/redeliver")
    assert again.json()["platform_status"] == "duplicate"


async def test_a_financing_on_a_contract_blocks_another_applications_payee_change(
    simulators: RunningSimulators,
) -> None:
    contract = await simulators.new_contract()
    holder = unique("APP")
    registered = await simulators.http.post(
        f"{simulators.procurement_url}/contracts/{contract.contract_no}/financing",
        json={
            "application_id": holder,
            "bank_code": "ICBC",
            "supplier_credit_code": contract.supplier.credit_code,
            "amount": "100.00",
        },
        headers={"Idempotency-Key": f"register-{holder}"},
    )
    assert registered.status_code == 201
    other = unique("APP")
    response = await simulators.http.post(
        f"{simulators.procurement_url}/contracts/{contract.contract_no}/payee-change",
        json={"application_id": other, "account_no": "62220200009", "account_name": "x", "bank_code": "BOC"},
        headers={"Idempotency-Key": f"change-{other}"},
    )
    assert response.status_code == 409
    assert response.json()["code"] == "contract_already_financed"
    assert response.json()["holder"]["application_id"] == holder


async def test_registration_checks_the_supplier(simulators: RunningSimulators) -> None:
    contract = await simulators.new_contract(status=ContractStatus.EFFECTIVE)
    response = await simulators.http.post(
        f"{simulators.procurement_url}/contracts/{contract.contract_no}/financing",
        json={
            "application_id": unique("APP"),
            "bank_code": "ICBC",
            "supplier_credit_code": supplier_credit_code(),
            "amount": "100.00",
        },
        headers={"Idempotency-Key": unique("K")},
    )
    assert response.status_code == 422
    assert response.json()["code"] == "validation_error"
