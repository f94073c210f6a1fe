"""Ops acknowledge a flag that needs judgement, end to end (dev server, worker, simulators,
PostgreSQL): a misdirected treasury payment lists the loan in /v1/ops/stuck with its key;
acknowledging it takes the loan off the list."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import asyncpg
import httpx
import pytest

from store.audit import AuditTrail
from tests.api.lifecycle import bank_headers, disbursed, ops_headers, treasury_notice
from tests.api.test_end_to_end import stack  # noqa: F401  (the module's own running platform)

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
    bank, ops = bank_headers(stack), ops_headers(stack)
    app_id, contract = await disbursed(stack, "6222020000000041", "300000.00")

    payment_id = f"T-MIS-{uuid.uuid4().hex[:8]}"
    notice = {
        "payment_id": payment_id,
        "contract_no": contract.contract_no,
        "payee_account_no": "9999000011113333",
        "amount": "1000.00",
        "paid_on": "2026-11-27",
    }
    answer = await treasury_notice(stack, notice)
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
