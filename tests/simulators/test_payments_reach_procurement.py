"""The treasury tells the procurement system of each payment it makes (as the joined systems
do): the contract's `paid_amount` grows by it, once per payment_id."""

from __future__ import annotations

from decimal import Decimal

from tests.fixtures.simulators import RunningSimulators


async def paid_amount(simulators: RunningSimulators, contract_no: str) -> Decimal:
    response = await simulators.hook("procurement", "GET", f"/contracts/{contract_no}")
    assert response.status_code == 200, response.text
    return Decimal(response.json()["paid_amount"])


async def test_each_treasury_payment_grows_the_contracts_paid_amount(simulators: RunningSimulators) -> None:
    contract = await simulators.new_contract(paid_amount=Decimal("100.00"))
    first = await simulators.hook(
        "treasury", "POST", "/sim/pay", {"contract_no": contract.contract_no, "amount": "250.10"}
    )
    assert first.status_code == 200, first.text
    assert first.json()["procurement_paid_amount"] == "350.10"
    second = await simulators.hook(
        "treasury", "POST", "/sim/pay", {"contract_no": contract.contract_no, "amount": "0.01"}
    )
    assert second.json()["procurement_paid_amount"] == "350.11"
    assert await paid_amount(simulators, contract.contract_no) == Decimal("350.11")


async def test_a_payment_paid_again_is_counted_once(simulators: RunningSimulators) -> None:
    contract = await simulators.new_contract()
    body = {"contract_no": contract.contract_no, "amount": "999.99", "payment_id": f"T-{contract.contract_no}"}
    for _ in range(3):
        answer = await simulators.hook("treasury", "POST", "/sim/pay", body)
        assert answer.json()["procurement_paid_amount"] == "999.99"
    assert await paid_amount(simulators, contract.contract_no) == Decimal("999.99")


async def test_a_misdirected_payment_still_pays_the_contract(simulators: RunningSimulators) -> None:
    """Money paid into the wrong account was still paid on the contract by its purchaser."""
    contract = await simulators.new_contract()
    body = {"contract_no": contract.contract_no, "amount": "10.00", "payee_account_no": "6217000000000042"}
    await simulators.hook("treasury", "POST", "/sim/pay", body)
    assert await paid_amount(simulators, contract.contract_no) == Decimal("10.00")


async def test_the_procurement_hook_is_idempotent_by_payment_id(simulators: RunningSimulators) -> None:
    contract = await simulators.new_contract()
    path = f"/sim/contracts/{contract.contract_no}/payments"
    payment = {"payment_id": f"P-{contract.contract_no}", "amount": "500.00", "paid_on": "2027-03-31"}
    recorded = await simulators.hook("procurement", "POST", path, payment)
    assert (recorded.status_code, recorded.json()) == (
        201,
        {"status": "recorded", "contract_no": contract.contract_no, "paid_amount": "500.00"},
    )
    # told again, even with another amount: the first telling stands
    again = await simulators.hook("procurement", "POST", path, payment | {"amount": "800.00"})
    assert (again.status_code, again.json()["status"], again.json()["paid_amount"]) == (200, "duplicate", "500.00")
    assert await paid_amount(simulators, contract.contract_no) == Decimal("500.00")


async def test_the_procurement_hook_refuses_what_cannot_be_a_payment(simulators: RunningSimulators) -> None:
    contract = await simulators.new_contract()
    path = f"/sim/contracts/{contract.contract_no}/payments"
    for amount in ("0.00", "-1.00", "1.001"):
        response = await simulators.hook(
            "procurement", "POST", path, {"payment_id": f"Z-{amount}", "amount": amount, "paid_on": "2027-03-31"}
        )
        assert response.status_code == 422, (amount, response.text)
    unknown = await simulators.hook(
        "procurement",
        "POST",
        "/sim/contracts/WX-UNKNOWN/payments",
        {"payment_id": "Z-1", "amount": "1.00", "paid_on": "2027-03-31"},
    )
    assert unknown.status_code == 404
    assert await paid_amount(simulators, contract.contract_no) == Decimal("0.00")
