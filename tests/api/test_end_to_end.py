"""API.md's money example over the real stack: the API on a real port, the dev server, a
worker with the real activities, and the simulators calling the API back.

One stack per module: the simulators number their events and payments from 1, so a second
set of simulators over the same database would send ids the platform has already seen."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

import asyncpg
import httpx
import pytest
import uvicorn
from temporalio.testing import WorkflowEnvironment

from api.main import create_app
from api.submission import keyed_application_id
from domain.application import SHANGHAI
from domain.settings import Settings
from store.audit import AuditTrail
from store.principals import ensure_credentials, generate_credentials
from tests.api.lifecycle import bank_headers, disbursed, ops_headers, treasury_notice, until
from tests.fixtures.database import free_port
from tests.fixtures.simulators import running_simulators
from worker.main import running_worker


@pytest.fixture(scope="module")
async def stack(
    dev_server_env: WorkflowEnvironment, database_url: str, db_pool: asyncpg.Pool
) -> AsyncIterator[dict[str, Any]]:
    keys = generate_credentials(["ICBC"])
    await ensure_credentials(db_pool, keys)
    port = free_port()
    api_url = f"http://127.0.0.1:{port}"
    base = Settings(
        database_url=database_url,
        treasury_secret=keys["treasury_secret"],
        procurement_secret=keys["procurement_secret"],
    )
    async with running_simulators(platform_url=api_url, base=base) as sims:
        settings = sims.settings.model_copy(
            update={
                "database_url": database_url,
                "api_host": "127.0.0.1",
                "api_port": port,
                "task_queue": f"api-e2e-{uuid.uuid4().hex[:8]}",
            }
        )
        app = create_app(settings, pool=db_pool, temporal_client=dev_server_env.client)
        server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, lifespan="on"))
        serving = asyncio.create_task(server.serve())
        try:
            async with running_worker(settings, dev_server_env.client, database_url):
                for _ in range(200):
                    if server.started:
                        break
                    await asyncio.sleep(0.05)
                async with httpx.AsyncClient(base_url=api_url, timeout=30) as http:
                    yield {"http": http, "sims": sims, "keys": keys, "settings": settings}
        finally:
            server.should_exit = True
            await serving


pytestmark = pytest.mark.e2e


async def test_money_example_end_to_end(stack: dict[str, Any], db_pool: asyncpg.Pool) -> None:
    http: httpx.AsyncClient = stack["http"]
    sims = stack["sims"]
    bank = {"Authorization": f"Bearer {stack['keys']['banks']['ICBC']}"}
    contract = await sims.new_contract()
    request = {
        "contract_no": contract.contract_no,
        "supplier_credit_code": contract.supplier.credit_code,
        "product_code": "STD",
        "requested_amount": "700000.00",
        "collection_account": {"account_no": "6222020000000001", "account_name": "无锡某某科技有限公司"},
    }
    submitted = await http.post("/v1/applications", json=request, headers={**bank, "Idempotency-Key": "k-1"})
    assert submitted.status_code == 201, submitted.text
    view = submitted.json()
    assert view["stage"] == "bank_review"
    app_id = view["application_id"]

    again = await http.post("/v1/applications", json=request, headers={**bank, "Idempotency-Key": "k-1"})
    assert again.status_code == 201 and again.json()["application_id"] == app_id
    mismatch = await http.post(
        "/v1/applications", json={**request, "requested_amount": "1.00"}, headers={**bank, "Idempotency-Key": "k-1"}
    )
    assert mismatch.status_code == 422 and mismatch.json()["code"] == "idempotency_key_mismatch"
    second = await http.post("/v1/applications", json=request, headers=bank)
    assert second.status_code == 409 and second.json()["code"] == "contract_already_financed"

    decision = {"decision": "approve", "approved_amount": "700000.00", "annual_rate": "0.0385", "term_days": 180}
    decided = await http.post(f"/v1/applications/{app_id}/decision", json=decision, headers=bank)
    assert decided.status_code == 200, decided.text
    assert decided.json()["stage"] == "account_lock"
    twice = await http.post(f"/v1/applications/{app_id}/decision", json=decision, headers=bank)
    assert twice.status_code == 409 and twice.json()["code"] == "invalid_state"

    change = await sims.hook(
        "procurement", "POST", f"/sim/contracts/{contract.contract_no}/account-change", {"decision": "confirmed"}
    )
    assert change.status_code < 300, change.text
    await until(http, f"/v1/applications/{app_id}", bank, "repaying")

    paid = await sims.hook(
        "treasury", "POST", "/sim/pay", {"contract_no": contract.contract_no, "amount": "1000000.00"}
    )
    assert paid.status_code < 300, paid.text
    assert paid.json()["platform_status"] == "accepted"
    settled = await until(http, f"/v1/applications/{app_id}", bank, "settled")
    assert settled["interest_paid"] == "74.86"
    assert settled["principal_repaid"] == "700000.00"
    assert settled["surplus_released"] == "299925.14"
    assert settled["outstanding_principal"] == "0.00"

    ended = await http.post(f"/v1/applications/{app_id}/withdraw", json={}, headers=bank)
    assert ended.status_code == 409 and ended.json()["code"] == "invalid_state"

    trail = {(entry.actor, entry.action) for entry in await AuditTrail(db_pool).for_application(app_id)}
    assert {("bank:ICBC", "application.submitted"), ("bank:ICBC", "application.approve")} <= trail
    assert ("procurement", "procurement.account_change") in trail
    assert ("treasury", "treasury.payment") in trail


async def test_refusals_visibility_and_offline_lock(stack: dict[str, Any], db_pool: asyncpg.Pool) -> None:
    http: httpx.AsyncClient = stack["http"]
    sims = stack["sims"]
    keys = generate_credentials(["ABC"])
    await ensure_credentials(db_pool, keys)
    bank = {"Authorization": f"Bearer {stack['keys']['banks']['ICBC']}"}
    other_bank = {"Authorization": f"Bearer {keys['banks']['ABC']}"}
    ops = {"Authorization": f"Bearer {stack['keys']['ops']}"}
    contract_no = f"WX-2026-LATE-{uuid.uuid4().hex[:6]}"
    supplier = (await sims.new_contract()).supplier
    request = {
        "contract_no": contract_no,
        "supplier_credit_code": supplier.credit_code,
        "product_code": "STD",
        "requested_amount": "700000.00",
        "collection_account": {"account_no": "6222020000000002", "account_name": "无锡某某科技有限公司"},
    }
    keyed = {**bank, "Idempotency-Key": "late-contract"}
    refused = await http.post("/v1/applications", json=request, headers=keyed)
    assert refused.status_code == 404, refused.text
    assert refused.json()["code"] == "contract_not_found"
    # a refused request is not remembered: once the contract exists, the same retry succeeds
    await sims.new_contract(contract_no=contract_no, supplier=supplier)
    accepted = await http.post("/v1/applications", json=request, headers=keyed)
    assert accepted.status_code == 201, accepted.text
    app_id = accepted.json()["application_id"]
    refused_id = keyed_application_id("ICBC", "late-contract")
    assert app_id != refused_id
    assert (await http.get(f"/v1/applications/{refused_id}", headers=bank)).json()["code"] == "not_found"

    too_much = await http.post(
        "/v1/applications", json={**request, "contract_no": (await sims.new_contract()).contract_no}, headers=bank
    )
    assert too_much.status_code == 422 and too_much.json()["code"] == "validation_error"

    assert (await http.get(f"/v1/applications/{app_id}", headers=other_bank)).json()["code"] == "not_found"
    assert (await http.get("/v1/applications/no-such-id", headers=bank)).json()["code"] == "not_found"
    theirs = await http.post(f"/v1/applications/{app_id}/withdraw", json={}, headers=other_bank)
    assert theirs.status_code == 404
    assert (await http.get(f"/v1/applications/{app_id}", headers=ops)).status_code == 200
    listed = (await http.get(f"/v1/applications?contract_no={contract_no}", headers=bank)).json()
    assert [item["application_id"] for item in listed["items"]] == [app_id]
    assert (await http.get(f"/v1/applications?contract_no={contract_no}", headers=other_bank)).json()["items"] == []

    bad = {"decision": "approve", "approved_amount": "700000.00", "annual_rate": "0.0700", "term_days": 180}
    refused_decision = await http.post(f"/v1/applications/{app_id}/decision", json=bad, headers=bank)
    assert refused_decision.status_code == 422 and refused_decision.json()["code"] == "validation_error"
    good = {**bad, "annual_rate": "0.0385"}
    assert (await http.post(f"/v1/applications/{app_id}/decision", json=good, headers=bank)).status_code == 200

    answer = await http.post(
        f"/v1/ops/applications/{app_id}/account-lock", json={"decision": "refused", "note": "by phone"}, headers=ops
    )
    assert answer.status_code == 200, answer.text
    await until(http, f"/v1/applications/{app_id}", bank, "failed")


async def test_misdirected_payment_and_supplier_repayments(stack: dict[str, Any]) -> None:
    http: httpx.AsyncClient = stack["http"]
    bank, ops = bank_headers(stack), ops_headers(stack)
    app_id, contract = await disbursed(stack, "6222020000000003", "500000.00")

    early = await http.post(f"/v1/applications/{app_id}/write-off", json={"reason": "x"}, headers=bank)
    assert early.status_code == 409 and early.json()["code"] == "invalid_state"

    payment_id = f"T-MIS-{uuid.uuid4().hex[:8]}"
    notice = {
        "payment_id": payment_id,
        "contract_no": contract.contract_no,
        "payee_account_no": "9999000011112222",
        "amount": "1000.00",
        "paid_on": "2026-11-27",
    }
    answer = await treasury_notice(stack, notice)
    assert answer.status_code == 202 and answer.json() == {"status": "misdirected"}
    kept = (await http.get("/v1/ops/payments?status=misdirected", headers=ops)).json()["items"]
    assert payment_id in {p["payment_id"] for p in kept}

    today = datetime.now(SHANGHAI).date().isoformat()  # between the payout and today (API.md v1.1)
    repayment = {"repayment_id": f"R-{uuid.uuid4().hex[:8]}", "amount": "100000.00", "paid_on": today}
    first = await http.post(f"/v1/applications/{app_id}/repayments", json=repayment, headers=bank)
    assert first.status_code == 200 and first.json() == {"status": "accepted"}, first.text
    again = await http.post(f"/v1/applications/{app_id}/repayments", json=repayment, headers=bank)
    assert again.status_code == 200 and again.json() == {"status": "duplicate"}
    # the answer came once the record showed the repayment received; it is applied right after
    view = (await http.get(f"/v1/applications/{app_id}", headers=bank)).json()
    assert repayment["repayment_id"] in [m["message_id"] for m in view["messages"]]
    for _ in range(100):
        if view["principal_repaid"] != "0.00":
            break
        await asyncio.sleep(0.05)  # polling a condition, bounded: not a sleep hiding a race
        view = (await http.get(f"/v1/applications/{app_id}", headers=bank)).json()
    assert view["stage"] == "repaying"
    assert view["principal_repaid"] != "0.00"
    stats = (await http.get("/v1/stats", headers=ops)).json()
    assert stats["financing_disbursed"] != "0.00"
