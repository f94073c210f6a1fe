"""Ops acknowledge a flag that needs judgement, end to end (dev server, worker, simulators,
PostgreSQL): a misdirected treasury payment lists the loan in /v1/ops/stuck with its key;
acknowledging it takes the loan off the list."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from typing import Any

import asyncpg
import httpx
import pytest

from domain.signing import SIGNATURE_HEADER, signature_header
from store.audit import AuditTrail
from tests.api.test_end_to_end import stack, until  # noqa: F401  (the module's own running platform)

pytestmark = pytest.mark.e2e


async def _stuck_item(http: httpx.AsyncClient, ops: dict[str, str], app_id: str) -> dict[str, Any]:
    """The application's /v1/ops/stuck item, once the workflow wrote its flag ({} if never)."""
    for _ in range(200):
        listed = (await http.get("/v1/ops/stuck", headers=ops)).json()["items"]
        item = next((i for i in listed if i["application_id"] == app_id), None)
        if item is not None:
            return item
        await asyncio.sleep(0.05)
    return {}


async def test_misdirected_payment_listed_then_acknowledged(stack: dict[str, Any], db_pool: asyncpg.Pool) -> None:  # noqa: F811
    http: httpx.AsyncClient = stack["http"]
    sims = stack["sims"]
    bank = {"Authorization": f"Bearer {stack['keys']['banks']['ICBC']}"}
    ops = {"Authorization": f"Bearer {stack['keys']['ops']}"}
    contract = await sims.new_contract()
    request = {
        "contract_no": contract.contract_no,
        "supplier_credit_code": contract.supplier.credit_code,
        "product_code": "STD",
        "requested_amount": "300000.00",
        "collection_account": {"account_no": "6222020000000041", "account_name": "无锡某某科技有限公司"},
    }
    submitted = await http.post("/v1/applications", json=request, headers=bank)
    assert submitted.status_code == 201, submitted.text
    app_id = submitted.json()["application_id"]
    decision = {"decision": "approve", "approved_amount": "300000.00", "annual_rate": "0.0400", "term_days": 90}
    assert (await http.post(f"/v1/applications/{app_id}/decision", json=decision, headers=bank)).status_code == 200
    path = f"/sim/contracts/{contract.contract_no}/account-change"
    assert (await sims.hook("procurement", "POST", path, {"decision": "confirmed"})).status_code < 300
    await until(http, f"/v1/applications/{app_id}", bank, "repaying")

    payment_id = f"T-MIS-{uuid.uuid4().hex[:8]}"
    body = json.dumps(
        {
            "payment_id": payment_id,
            "contract_no": contract.contract_no,
            "payee_account_no": "9999000011113333",
            "amount": "1000.00",
            "paid_on": "2026-11-27",
        }
    ).encode()
    headers = {SIGNATURE_HEADER: signature_header(stack["keys"]["treasury_secret"], int(time.time()), body)}
    answer = await http.post("/v1/treasury/payments", content=body, headers=headers)
    assert answer.status_code == 202 and answer.json() == {"status": "misdirected"}

    item = await _stuck_item(http, ops, app_id)
    assert item, "never listed as stuck"
    key = f"misdirected:{payment_id}"
    assert [(a["key"], a["acknowledgeable"]) for a in item["attention"]] == [(key, True)]
    assert item["needs_attention"] is True and item["reasons"] == [item["attention"][0]["reason"]]
    view = (await http.get(f"/v1/applications/{app_id}", headers=ops)).json()
    assert [a["key"] for a in view["attention"]] == [key]

    base = f"/v1/ops/applications/{app_id}/acknowledge"
    note = {"reason": key, "note": "treasury recalled the payment"}
    as_bank = await http.post(base, json=note, headers=bank)
    assert as_bank.status_code == 403 and as_bank.json()["code"] == "forbidden"
    unknown = await http.post(base, json={**note, "reason": "misdirected:T-NOPE"}, headers=ops)
    assert unknown.status_code == 409 and unknown.json()["code"] == "invalid_state"
    no_note = await http.post(base, json={"reason": key}, headers=ops)
    assert no_note.status_code == 422 and no_note.json()["code"] == "validation_error"

    acknowledged = await http.post(base, json=note, headers=ops)
    assert acknowledged.status_code == 200, acknowledged.text
    cleared = acknowledged.json()
    assert cleared["needs_attention"] is False and cleared["attention"] == [] and cleared["stage"] == "repaying"
    assert cleared["timeline"][-1]["note"].endswith("treasury recalled the payment")
    listed = (await http.get("/v1/ops/stuck", headers=ops)).json()["items"]
    assert app_id not in [i["application_id"] for i in listed]  # the read model was written before the answer
    again = await http.post(base, json=note, headers=ops)
    assert again.status_code == 409 and again.json()["code"] == "invalid_state"

    trail = [e for e in await AuditTrail(db_pool).for_application(app_id) if e.action == "ops.acknowledge"]
    assert len(trail) == 1 and trail[0].actor.startswith("ops:")
    assert trail[0].details == note
