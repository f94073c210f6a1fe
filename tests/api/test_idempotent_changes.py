"""Idempotency on every change a bank makes (API.md v1.1): decision, repayments, write-off
and withdraw answer a retried request with the first answer and `Idempotent-Replayed: true`,
refuse the same key with another body, and do not remember refusals."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import asyncpg
import httpx
import pytest

from api.idempotency import scoped_key
from domain.application import SHANGHAI
from store.idempotency import IdempotencyRepository, request_hash
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


async def _died_holding(db_pool: asyncpg.Pool, endpoint: str, app_id: str, key: str, body: Any) -> None:
    """What a request leaves when its API process dies after the change and before the answer:
    the key reserved, no answer stored — and reserved long enough ago to be taken over."""
    scope = scoped_key(endpoint, app_id, key)
    digest = request_hash({"endpoint": endpoint, "body": body})
    assert await IdempotencyRepository(db_pool).reserve("ICBC", scope, digest) is None
    await db_pool.execute(
        "UPDATE idempotency_keys SET reserved_at = now() - interval '2 minutes' "
        "WHERE bank_code = 'ICBC' AND idempotency_key = $1",
        scope,
    )


async def test_a_change_made_under_a_key_whose_answer_was_lost_answers_as_the_first_would(
    stack: dict[str, Any],  # noqa: F811
    db_pool: asyncpg.Pool,
) -> None:
    """The retry under the dying request's key hears the first answer (200, the change); the
    same change under a new key is someone else's change made twice: 409 / duplicate."""
    http: httpx.AsyncClient = stack["http"]
    app_id, _ = await disbursed(stack, "6222021000000013", "500000.00")
    today = datetime.now(SHANGHAI).date().isoformat()
    repayment = {"repayment_id": f"R-{uuid.uuid4().hex[:8]}", "amount": "1000.00", "paid_on": today}
    path = f"/v1/applications/{app_id}/repayments"
    lost_key = f"rep-{uuid.uuid4().hex}"
    await _died_holding(db_pool, "repayments", app_id, lost_key, repayment)
    made = await http.post(path, json=repayment, headers=bank_headers(stack))  # the change itself
    assert made.json() == {"status": "accepted"}
    await until(http, f"/v1/applications/{app_id}", bank_headers(stack), "repaying")
    retried = await http.post(path, json=repayment, headers=_keyed(stack, lost_key))
    assert retried.status_code == 200 and retried.json() == {"status": "accepted"}, retried.text
    fresh = await http.post(path, json=repayment, headers=_keyed(stack, f"rep-{uuid.uuid4().hex}"))
    assert fresh.status_code == 200 and fresh.json() == {"status": "duplicate"}, fresh.text

    contract = await stack["sims"].new_contract()
    submitted = await http.post(
        "/v1/applications", json=application_body(contract, "6222021000000014"), headers=bank_headers(stack)
    )
    other_id = submitted.json()["application_id"]
    withdrawal = {"reason": "supplier withdrew"}
    lost_key = f"wd-{uuid.uuid4().hex}"
    await _died_holding(db_pool, "withdraw", other_id, lost_key, withdrawal)
    first = await http.post(f"/v1/applications/{other_id}/withdraw", json=withdrawal, headers=bank_headers(stack))
    assert first.status_code == 200 and first.json()["stage"] == "withdrawn", first.text
    retried = await http.post(f"/v1/applications/{other_id}/withdraw", json=withdrawal, headers=_keyed(stack, lost_key))
    assert retried.status_code == 200 and retried.json()["stage"] == "withdrawn", retried.text
    fresh = await http.post(
        f"/v1/applications/{other_id}/withdraw", json=withdrawal, headers=_keyed(stack, f"wd-{uuid.uuid4().hex}")
    )
    assert fresh.status_code == 409 and fresh.json()["code"] == "invalid_state", fresh.text
