"""A full lifecycle through the public API with two partial treasury payments, exact to the fen."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any

import httpx
import pytest

from tests.api.lifecycle import application_body
from tests.api.test_end_to_end import stack, until  # noqa: F401  (the module's own running platform)

pytestmark = pytest.mark.e2e


async def test_two_partial_treasury_payments_settle_exactly(stack: dict[str, Any]) -> None:  # noqa: F811
    http: httpx.AsyncClient = stack["http"]
    sims = stack["sims"]
    bank = {"Authorization": f"Bearer {stack['keys']['banks']['ICBC']}"}
    contract = await sims.new_contract()
    request = application_body(contract, "6222020000000041", "700000.00")
    submitted = await http.post("/v1/applications", json=request, headers=bank)
    assert submitted.status_code == 201, submitted.text
    app_id = submitted.json()["application_id"]
    decision = {"decision": "approve", "approved_amount": "700000.00", "annual_rate": "0.0385", "term_days": 180}
    assert (await http.post(f"/v1/applications/{app_id}/decision", json=decision, headers=bank)).status_code == 200
    await sims.hook(
        "procurement", "POST", f"/sim/contracts/{contract.contract_no}/account-change", {"decision": "confirmed"}
    )
    repaying = await until(http, f"/v1/applications/{app_id}", bank, "repaying")
    paid_on = repaying["disbursed_on"]

    # 1st: 300,000.00 on the disbursement day — one day of interest on 700,000.00 = 74.86
    first = await sims.hook(
        "treasury", "POST", "/sim/pay", {"contract_no": contract.contract_no, "amount": "300000.00", "paid_on": paid_on}
    )
    assert first.json()["platform_status"] == "accepted"
    for _ in range(100):
        view = (await http.get(f"/v1/applications/{app_id}", headers=bank)).json()
        if view["principal_repaid"] != "0.00":
            break
        await asyncio.sleep(0.05)  # polling a condition, bounded: not a sleep hiding a race
    assert (view["interest_paid"], view["principal_repaid"]) == ("74.86", "299925.14")
    assert view["outstanding_principal"] == "400074.86" and view["stage"] == "repaying"

    # 2nd: the rest on the same day accrues nothing more; 99,925.14 is surplus
    second = await sims.hook(
        "treasury", "POST", "/sim/pay", {"contract_no": contract.contract_no, "amount": "500000.00", "paid_on": paid_on}
    )
    assert second.json()["platform_status"] == "accepted"
    settled = await until(http, f"/v1/applications/{app_id}", bank, "settled")
    assert settled["interest_paid"] == "74.86"
    assert settled["principal_repaid"] == "700000.00"
    assert settled["surplus_released"] == "99925.14"
    assert Decimal(settled["interest_paid"]) + Decimal(settled["principal_repaid"]) + Decimal(
        settled["surplus_released"]
    ) == Decimal("800000.00")
    captured = await sims.hook("bank", "GET", "/sim/repayments", contract_no=contract.contract_no)
    assert len(captured.json()["items"]) == 2
