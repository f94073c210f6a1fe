"""Idempotency on every change a bank makes (API.md v1.1): decision, repayments, write-off
and withdraw answer a retried request with the first answer and `Idempotent-Replayed: true`,
refuse the same key with another body, and do not remember refusals."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import httpx
import pytest

from domain.application import SHANGHAI
from tests.api.lifecycle import application_body, bank_headers, disbursed
from tests.api.test_end_to_end import stack, until  # noqa: F401  (the module's own running platform)

pytestmark = pytest.mark.e2e


def _keyed(platform: dict[str, Any], key: str) -> dict[str, str]:
    return {**bank_headers(platform), "Idempotency-Key": key}


async def test_a_retried_decision_answers_the_first_answer(stack: dict[str, Any]) -> None:  # noqa: F811
    http: httpx.AsyncClient = stack["http"]
    contract = await stack["sims"].new_contract()
    submitted = await http.post(
        "/v1/applications", json=application_body(contract, "6222021000000011"), headers=bank_headers(stack)
    )
    app_id = submitted.json()["application_id"]
    decision = {"decision": "approve", "approved_amount": "500000.00", "annual_rate": "0.0400", "term_days": 90}
    key = f"dec-{uuid.uuid4().hex}"

    # a refusal is not remembered: the corrected request with the same key is evaluated afresh
    bad = await http.post(
        f"/v1/applications/{app_id}/decision", json={**decision, "term_days": 9999}, headers=_keyed(stack, key)
    )
    assert bad.status_code == 422
    first = await http.post(f"/v1/applications/{app_id}/decision", json=decision, headers=_keyed(stack, key))
    assert first.status_code == 200, first.text
    assert first.json()["stage"] == "account_lock" and "Idempotent-Replayed" not in first.headers
    again = await http.post(f"/v1/applications/{app_id}/decision", json=decision, headers=_keyed(stack, key))
    assert again.status_code == 200 and again.headers["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    other = await http.post(
        f"/v1/applications/{app_id}/decision", json={**decision, "term_days": 60}, headers=_keyed(stack, key)
    )
    assert other.status_code == 422 and other.json()["code"] == "idempotency_key_mismatch"
    # without the key, a second decision is what it is: the bank has decided already
    unkeyed = await http.post(f"/v1/applications/{app_id}/decision", json=decision, headers=bank_headers(stack))
    assert unkeyed.status_code == 409 and unkeyed.json()["code"] == "invalid_state"


async def test_a_retried_repayment_is_applied_once_and_answers_accepted_again(stack: dict[str, Any]) -> None:  # noqa: F811
    http: httpx.AsyncClient = stack["http"]
    app_id, _ = await disbursed(stack, "6222021000000012", "500000.00")
    today = datetime.now(SHANGHAI).date().isoformat()
    repayment = {"repayment_id": f"R-{uuid.uuid4().hex[:8]}", "amount": "1000.00", "paid_on": today}
    key = f"rep-{uuid.uuid4().hex}"
    path = f"/v1/applications/{app_id}/repayments"
    first = await http.post(path, json=repayment, headers=_keyed(stack, key))
    assert first.json() == {"status": "accepted"}
    again = await http.post(path, json=repayment, headers=_keyed(stack, key))
    assert again.json() == {"status": "accepted"} and again.headers["Idempotent-Replayed"] == "true"
    # the same key on another endpoint is another key (scoped to the endpoint)
    withdraw = await http.post(f"/v1/applications/{app_id}/withdraw", json={}, headers=_keyed(stack, key))
    assert withdraw.status_code == 409 and withdraw.json()["code"] == "invalid_state"
    view = await until(http, f"/v1/applications/{app_id}", bank_headers(stack), "repaying")
    applied = [m for m in view["messages"] if m["message_id"] == repayment["repayment_id"]]
    assert len(applied) == 1
