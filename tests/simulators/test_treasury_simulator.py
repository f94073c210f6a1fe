"""The treasury simulator's `/sim/pay`: where the money goes, what the platform is told,
and a payment notified twice."""

from __future__ import annotations

import time

from domain.signing import verify_signature
from tests.fixtures.simulators import RunningSimulators

PAYMENTS = "/v1/treasury/payments"


async def test_a_forced_payee_account_makes_a_misdirected_payment(simulators: RunningSimulators) -> None:
    contract = await simulators.new_contract()
    body = {"contract_no": contract.contract_no, "amount": "2500.00", "payee_account_no": "6217000000000042"}
    paid = (await simulators.hook("treasury", "POST", "/sim/pay", body)).json()
    assert paid["payee_account_no"] == "6217000000000042"
    [notification] = simulators.stub.callbacks(PAYMENTS, payment_id=paid["payment_id"])
    assert notification.json["payee_account_no"] == "6217000000000042"
    assert verify_signature(
        notification.signature, notification.body, [simulators.settings.treasury_secret], time.time()
    )


async def test_a_payment_paid_again_is_notified_again_not_paid_twice(simulators: RunningSimulators) -> None:
    contract = await simulators.new_contract()
    body = {"contract_no": contract.contract_no, "amount": "300.00", "payment_id": f"T-{contract.contract_no}"}
    first = (await simulators.hook("treasury", "POST", "/sim/pay", body)).json()
    second = (await simulators.hook("treasury", "POST", "/sim/pay", body)).json()
    assert (first["platform_status"], second["platform_status"]) == ("accepted", "duplicate")
    listed = await simulators.hook("treasury", "GET", "/sim/payments", contract_no=contract.contract_no)
    assert len(listed.json()["items"]) == 1
    first_body, second_body = (r.body for r in simulators.stub.callbacks(PAYMENTS, payment_id=body["payment_id"]))
    assert first_body == second_body


async def test_payment_ids_count_per_day(simulators: RunningSimulators) -> None:
    contract = await simulators.new_contract()
    body = {"contract_no": contract.contract_no, "amount": "1.00", "paid_on": "2030-01-02"}
    ids = [(await simulators.hook("treasury", "POST", "/sim/pay", body)).json()["payment_id"] for _ in range(2)]
    first = int(ids[0].removeprefix("T20300102-"))
    assert ids == [f"T20300102-{first:04d}", f"T20300102-{first + 1:04d}"]


async def test_paying_an_unknown_contract_is_404(simulators: RunningSimulators) -> None:
    response = await simulators.hook("treasury", "POST", "/sim/pay", {"contract_no": "WX-UNKNOWN", "amount": "1.00"})
    assert response.status_code == 404
    assert response.json()["code"] == "contract_not_found"


async def test_no_payment_while_the_procurement_system_is_down(simulators: RunningSimulators) -> None:
    contract = await simulators.new_contract()
    async with simulators.faults("procurement", outage=True):
        response = await simulators.hook(
            "treasury", "POST", "/sim/pay", {"contract_no": contract.contract_no, "amount": "1.00"}
        )
    assert response.status_code == 502
    listed = await simulators.hook("treasury", "GET", "/sim/payments", contract_no=contract.contract_no)
    assert listed.json()["items"] == []
