"""Idempotency-Key answers that never reach the workflow, and readiness without Temporal."""

from __future__ import annotations

from typing import Any

import asyncpg
import httpx

from domain.credit_code import make_credit_code
from store.idempotency import IdempotencyRepository, request_hash
from tests.api.test_problems import assert_problem, bearer

BODY: dict[str, Any] = {
    "contract_no": "WX-2026-IDEM-1",
    "product_code": "STD",
    "requested_amount": "700000.00",
    "collection_account": {"account_no": "6222020000000001", "account_name": "无锡某某科技有限公司"},
}


async def test_completed_key_replays_and_a_different_body_is_a_mismatch(
    api: httpx.AsyncClient, db_pool: asyncpg.Pool, credentials: dict[str, Any]
) -> None:
    body = {**BODY, "supplier_credit_code": make_credit_code("91320200", "MA1MXY3K")}
    keys = IdempotencyRepository(db_pool)
    assert await keys.reserve("ICBC", "idem-1", request_hash(body), application_id="app-idem-1") is None
    first = {"application_id": "app-idem-1", "stage": "bank_review"}
    await keys.store("ICBC", "idem-1", 201, first, "app-idem-1")
    headers = {**bearer(credentials["banks"]["ICBC"]), "Idempotency-Key": "idem-1"}

    # key order and spacing do not matter: the body is compared as parsed JSON
    replay = await api.post("/v1/applications", json=dict(reversed(list(body.items()))), headers=headers)
    assert replay.status_code == 201
    assert replay.json() == first

    mismatch = await api.post("/v1/applications", json={**body, "requested_amount": "1.00"}, headers=headers)
    assert_problem(mismatch, 422, "idempotency_key_mismatch")
    assert await keys.lookup("ABC", "idem-1") is None  # keys are scoped per bank


async def test_readyz_reports_temporal_unreachable(api: httpx.AsyncClient) -> None:
    response = await api.get("/readyz")
    assert response.status_code == 503
    checks = response.json()["checks"]
    assert checks["database"] == "ok"
    assert checks["temporal"] != "ok"
