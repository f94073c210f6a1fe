"""Idempotency keys on the simulators' own APIs, as real banks enforce them."""

from __future__ import annotations

from typing import Any

from tests.fixtures.simulators import RunningSimulators, unique


def a_payout() -> dict[str, Any]:
    return {
        "application_id": unique("APP"),
        "bank_code": "ABC",
        "contract_no": unique("WX-2026"),
        "amount": "120000.00",
        "account_no": "6228480000000001",
        "account_name": "无锡某某环保有限公司",
    }


async def post(simulators: RunningSimulators, path: str, body: Any, key: str | None) -> Any:
    headers = {"Idempotency-Key": key} if key is not None else {}
    return await simulators.http.post(simulators.bank_url + path, json=body, headers=headers)


async def test_a_mutating_call_without_a_key_is_refused(simulators: RunningSimulators) -> None:
    body = a_payout()
    response = await post(simulators, "/disbursements", body, None)
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["code"] == "validation_error"
    listed = await simulators.hook("bank", "GET", "/sim/disbursements", contract_no=body["contract_no"])
    assert listed.json()["items"] == []


async def test_the_same_key_replays_the_first_answer(simulators: RunningSimulators) -> None:
    body = a_payout()
    first = await post(simulators, "/disbursements", body, "k-" + body["application_id"])
    again = await post(simulators, "/disbursements", dict(reversed(list(body.items()))), "k-" + body["application_id"])
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers


async def test_the_same_key_with_another_body_or_endpoint_is_a_mismatch(simulators: RunningSimulators) -> None:
    body = a_payout()
    key = "k-" + body["application_id"]
    await post(simulators, "/disbursements", body, key)
    changed = await post(simulators, "/disbursements", body | {"amount": "120000.01"}, key)
    assert changed.status_code == 422
    assert changed.json()["code"] == "idempotency_key_mismatch"
    elsewhere = await post(
        simulators, f"/credit-applications/{body['application_id']}/cancel", {"bank_code": "ABC"}, key
    )
    assert elsewhere.json()["code"] == "idempotency_key_mismatch"


async def test_money_must_be_a_two_place_decimal_string(simulators: RunningSimulators) -> None:
    for amount in (120000.5, "1.001", "abc"):
        response = await post(simulators, "/disbursements", a_payout() | {"amount": amount}, unique("K"))
        assert response.status_code == 422, amount
        assert response.json()["code"] == "validation_error"
