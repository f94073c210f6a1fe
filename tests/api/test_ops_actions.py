"""Ops fixes end to end (dev server, worker, simulators, PostgreSQL): resend, extend, cancel."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.api.lifecycle import application_body
from tests.api.test_end_to_end import stack  # noqa: F401  (the module's own running platform)

pytestmark = pytest.mark.e2e


async def _submitted(stack: dict[str, Any], account_no: str) -> tuple[str, str]:  # noqa: F811
    http: httpx.AsyncClient = stack["http"]
    contract = await stack["sims"].new_contract()
    request = application_body(contract, account_no, "500000.00")
    bank = {"Authorization": f"Bearer {stack['keys']['banks']['ICBC']}"}
    answer = await http.post("/v1/applications", json=request, headers=bank)
    assert answer.status_code == 201, answer.text
    return answer.json()["application_id"], contract.contract_no


async def test_ops_resend_extend_and_cancel(stack: dict[str, Any]) -> None:  # noqa: F811
    http: httpx.AsyncClient = stack["http"]
    ops = {"Authorization": f"Bearer {stack['keys']['ops']}"}
    bank = {"Authorization": f"Bearer {stack['keys']['banks']['ICBC']}"}
    app_id, contract_no = await _submitted(stack, "6222020000000031")
    base = f"/v1/ops/applications/{app_id}"

    resent = await http.post(f"{base}/resend-to-bank", json={"note": "bank lost it"}, headers=ops)
    assert resent.status_code == 200, resent.text
    assert resent.json()["stage"] == "bank_review"
    sends = await stack["sims"].hook("bank", "GET", "/sim/credit-applications", application_id=app_id)
    assert [item["submissions"] for item in sends.json()["items"]] == [2]

    before = resent.json()["stage_deadline"]
    extended = await http.post(f"{base}/extend-deadline", json={"days": 5}, headers=ops)
    assert extended.status_code == 200 and extended.json()["stage_deadline"] > before
    bad = await http.post(f"{base}/extend-deadline", json={"days": 0}, headers=ops)
    assert bad.status_code == 422 and bad.json()["code"] == "validation_error"
    as_bank = await http.post(f"{base}/cancel", json={"reason": "x"}, headers=bank)
    assert as_bank.status_code == 403 and as_bank.json()["code"] == "forbidden"

    cancelled = await http.post(f"{base}/cancel", json={"reason": "duplicate application"}, headers=ops)
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["stage"] == "failed"
    financing = await stack["sims"].hook("procurement", "GET", f"/contracts/{contract_no}/financing")
    assert financing.status_code == 404  # registration released by the compensation
    again = await http.post(f"{base}/cancel", json={"reason": "again"}, headers=ops)
    assert again.status_code == 409 and again.json()["code"] == "invalid_state"
