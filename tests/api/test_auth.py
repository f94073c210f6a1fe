"""Bearer keys, principal kinds and signed requests (API.md "Principals and authentication")."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import asyncpg
import httpx
import pytest

from domain.signing import SIGNATURE_HEADER, signature_header
from store.payments import PaymentInbox
from tests.api.test_problems import assert_problem, bearer


def payment(payment_id: str) -> bytes:
    return json.dumps(
        {
            "payment_id": payment_id,
            "contract_no": f"WX-NONE-{payment_id}",
            "payee_account_no": "6222020000000001",
            "amount": "1000000.00",
            "paid_on": "2026-11-27",
        }
    ).encode()


async def test_no_key_is_unauthenticated(api: httpx.AsyncClient) -> None:
    assert_problem(await api.get("/v1/applications"), 401, "unauthenticated")


async def test_unknown_key_is_unauthenticated(api: httpx.AsyncClient) -> None:
    assert_problem(await api.get("/v1/applications", headers=bearer("zcd_wrong")), 401, "unauthenticated")
    assert_problem(await api.get("/v1/stats", headers={"Authorization": "Basic abc"}), 401, "unauthenticated")


async def test_bank_key_on_ops_endpoints_is_forbidden(api: httpx.AsyncClient, credentials: dict[str, Any]) -> None:
    headers = bearer(credentials["banks"]["ICBC"])
    for path in ("/v1/stats", "/v1/ops/stuck", "/v1/ops/payments?status=unmatched"):
        assert_problem(await api.get(path, headers=headers), 403, "forbidden")
    response = await api.post("/v1/ops/applications/x/account-lock", json={"decision": "confirmed"}, headers=headers)
    assert_problem(response, 403, "forbidden")


async def test_ops_key_cannot_submit_for_a_bank(api: httpx.AsyncClient, credentials: dict[str, Any]) -> None:
    response = await api.post("/v1/applications", json={}, headers=bearer(credentials["ops"]))
    assert response.status_code in (403, 422)
    assert response.headers["content-type"].startswith("application/problem+json")


async def test_ops_sees_stats_and_lists(api: httpx.AsyncClient, credentials: dict[str, Any]) -> None:
    headers = bearer(credentials["ops"])
    stats = (await api.get("/v1/stats", headers=headers)).json()
    assert stats["credit_granted"] == "0.00"
    assert "ICBC" in {b["bank_code"] for b in stats["by_bank"]}
    assert (await api.get("/v1/ops/stuck", headers=headers)).status_code == 200
    listing = (await api.get("/v1/applications", headers=headers)).json()
    assert listing["next_cursor"] is None


async def test_bank_lists_only_its_own(api: httpx.AsyncClient, credentials: dict[str, Any]) -> None:
    listing = await api.get("/v1/applications", headers=bearer(credentials["banks"]["ABC"]))
    assert listing.status_code == 200
    assert all(item["bank_code"] == "ABC" for item in listing.json()["items"])


@pytest.mark.parametrize("case", ["missing", "wrong_secret", "stale", "future", "tampered", "garbage"])
async def test_bad_signatures_are_refused_and_nothing_is_recorded(
    api: httpx.AsyncClient, db_pool: asyncpg.Pool, credentials: dict[str, Any], case: str
) -> None:
    payment_id = f"T-{case}-{uuid.uuid4().hex[:8]}"
    body = payment(payment_id)
    secret = credentials["treasury_secret"]
    now = int(time.time())
    headers = {"Content-Type": "application/json"}
    if case == "wrong_secret":
        headers[SIGNATURE_HEADER] = signature_header("not-the-secret", now, body)
    elif case == "stale":
        headers[SIGNATURE_HEADER] = signature_header(
            secret, now - 400, body
        )  # well past the 300 s tolerance, also on a slow machine
    elif case == "future":
        headers[SIGNATURE_HEADER] = signature_header(secret, now + 400, body)
    elif case == "tampered":
        headers[SIGNATURE_HEADER] = signature_header(secret, now, body)
        body = body.replace(b"1000000.00", b"9000000.00")
    elif case == "garbage":
        headers[SIGNATURE_HEADER] = "t=abc,v1=zz"
    response = await api.post("/v1/treasury/payments", content=body, headers=headers)
    assert_problem(response, 401, "bad_signature")
    assert await PaymentInbox(db_pool).get(payment_id) is None


async def test_procurement_secret_does_not_sign_payments(api: httpx.AsyncClient, credentials: dict[str, Any]) -> None:
    body = payment(f"T-{uuid.uuid4().hex[:8]}")
    headers = {SIGNATURE_HEADER: signature_header(credentials["procurement_secret"], int(time.time()), body)}
    assert_problem(await api.post("/v1/treasury/payments", content=body, headers=headers), 401, "bad_signature")


async def test_signed_payment_for_no_loan_is_kept_as_unmatched(
    api: httpx.AsyncClient, db_pool: asyncpg.Pool, credentials: dict[str, Any]
) -> None:
    payment_id = f"T-ok-{uuid.uuid4().hex[:8]}"
    body = payment(payment_id)
    now = int(time.time())
    # a rotation: one stale secret and the current one; one valid value suffices
    headers = {SIGNATURE_HEADER: signature_header(["old-secret", credentials["treasury_secret"]], now, body)}
    response = await api.post("/v1/treasury/payments", content=body, headers=headers)
    assert response.status_code == 202, response.text
    assert response.json() == {"status": "unmatched"}
    again = await api.post("/v1/treasury/payments", content=body, headers=headers)
    assert again.json() == {"status": "duplicate"}
    stored = await PaymentInbox(db_pool).get(payment_id)
    assert stored is not None and stored.status == "unmatched"
    kept = await api.get("/v1/ops/payments?status=unmatched", headers=bearer(credentials["ops"]))
    assert payment_id in {p["payment_id"] for p in kept.json()["items"]}


async def test_signed_but_malformed_payment_is_a_validation_error(
    api: httpx.AsyncClient, credentials: dict[str, Any]
) -> None:
    body = b'{"payment_id": "x", "amount": 12.5}'
    headers = {SIGNATURE_HEADER: signature_header(credentials["treasury_secret"], int(time.time()), body)}
    assert_problem(await api.post("/v1/treasury/payments", content=body, headers=headers), 422, "validation_error")


async def test_signed_account_change_with_no_waiting_application_is_unmatched(
    api: httpx.AsyncClient, credentials: dict[str, Any]
) -> None:
    body = json.dumps(
        {
            "event_id": f"E-{uuid.uuid4().hex[:8]}",
            "contract_no": "WX-NONE-1",
            "decision": "confirmed",
            "decided_at": "2026-11-27T10:00:00+08:00",
        }
    ).encode()
    bad = {SIGNATURE_HEADER: signature_header(credentials["treasury_secret"], int(time.time()), body)}
    response = await api.post("/v1/procurement/account-changes", content=body, headers=bad)
    assert_problem(response, 401, "bad_signature")
    good = {SIGNATURE_HEADER: signature_header(credentials["procurement_secret"], int(time.time()), body)}
    response = await api.post("/v1/procurement/account-changes", content=body, headers=good)
    assert response.status_code == 200, response.text
    assert response.json() == {"status": "unmatched"}
