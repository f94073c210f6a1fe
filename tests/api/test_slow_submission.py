"""POST /v1/applications answers within a bounded time even when the bank's credit system is
down: 503 `upstream_unavailable` with Retry-After, the process carries on, and a retry with the
same Idempotency-Key gets the 201 of the same application once the bank answers."""

from __future__ import annotations

import re
from typing import Any

import asyncpg
import httpx
import pytest

from store.audit import AuditTrail
from tests.api.lifecycle import application_body
from tests.api.test_end_to_end import stack, until  # noqa: F401  (the module's own running platform)

pytestmark = pytest.mark.e2e


async def test_a_slow_bank_gets_a_503_then_the_same_application_on_retry(stack: dict[str, Any]) -> None:  # noqa: F811
    http: httpx.AsyncClient = stack["http"]
    settings = stack["settings"]
    contract = await stack["sims"].new_contract()
    bank = {"Authorization": f"Bearer {stack['keys']['banks']['ICBC']}", "Idempotency-Key": "slow-bank-1"}
    request = application_body(contract, "6222020000000061", "500000.00")
    waited = settings.submission_wait_seconds
    settings.submission_wait_seconds = 1.0  # the app reads its settings per request
    try:
        async with stack["sims"].faults("bank", outage=True):
            slow = await http.post("/v1/applications", json=request, headers=bank)
            assert slow.status_code == 503, slow.text
            assert slow.headers["content-type"].startswith("application/problem+json")
            assert slow.json()["code"] == "upstream_unavailable"
            assert slow.headers["Retry-After"] == "5"
            assert "same Idempotency-Key" in slow.json()["detail"]
            # still down: a retry is told the same, and no second application appears
            again = await http.post("/v1/applications", json=request, headers=bank)
            assert again.status_code == 503, again.text
        settings.submission_wait_seconds = waited
        answered = await http.post("/v1/applications", json=request, headers=bank)
        assert answered.status_code == 201, answered.text
        assert answered.json()["stage"] == "bank_review"
        app_id = answered.json()["application_id"]
        assert app_id in slow.json()["detail"]
        listed = await http.get(f"/v1/applications?contract_no={contract.contract_no}", headers=bank)
        assert [item["application_id"] for item in listed.json()["items"]] == [app_id]
    finally:
        settings.submission_wait_seconds = waited


async def test_a_slow_submission_without_a_key_names_its_application_and_is_audited(
    stack: dict[str, Any],  # noqa: F811
    db_pool: asyncpg.Pool,
) -> None:
    http: httpx.AsyncClient = stack["http"]
    settings = stack["settings"]
    contract = await stack["sims"].new_contract()
    bank = {"Authorization": f"Bearer {stack['keys']['banks']['ICBC']}"}
    request = application_body(contract, "6222020000000062", "500000.00")
    waited = settings.submission_wait_seconds
    settings.submission_wait_seconds = 1.0
    try:
        async with stack["sims"].faults("bank", outage=True):
            slow = await http.post("/v1/applications", json=request, headers=bank)
            assert slow.status_code == 503, slow.text
    finally:
        settings.submission_wait_seconds = waited
    found = re.search(r"application (\w+) is still being verified", slow.json()["detail"])
    assert found is not None, slow.text
    app_id = found.group(1)
    # the bank can follow it by that id; once its review system is back the process goes on
    carried_on = await until(http, f"/v1/applications/{app_id}", bank, "bank_review")
    assert carried_on["contract_no"] == contract.contract_no
    trail = await AuditTrail(db_pool).for_application(app_id)
    assert [(entry.actor, entry.action) for entry in trail][:1] == [("bank:ICBC", "application.submitted")]
