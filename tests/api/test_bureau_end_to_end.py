"""The bureau's figures end to end (API.md v1.1 "The finance bureau"): loans driven through the
public API on the real stack of test_end_to_end.py (dev server, worker, simulators, PostgreSQL)
— one settled by the treasury, one partly repaid by the supplier, one rejected, one waiting —
then `/v1/stats` all time and over periods, `/v1/stats/monthly`, the CSV export and the bureau's
page agree with the applications to the fen (Decimal)."""

from __future__ import annotations

import asyncio
import csv
import io
import re
import uuid
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest

from domain.business_time import SHANGHAI
from domain.contracts import Purchaser
from tests.api.lifecycle import application_body, bank_headers, disbursed, ops_headers, until
from tests.api.test_end_to_end import stack

__all__ = ["stack"]  # the fixture, shared with the end-to-end module

pytestmark = pytest.mark.e2e

D = Decimal


async def _settled_by_the_treasury(stack: dict[str, Any]) -> dict[str, Any]:
    app_id, contract = await disbursed(stack, "6222020000000301", "500000.00")
    paid = await stack["sims"].hook(
        "treasury", "POST", "/sim/pay", {"contract_no": contract.contract_no, "amount": "1000000.00"}
    )
    assert paid.status_code < 300, paid.text
    return await until(stack["http"], f"/v1/applications/{app_id}", bank_headers(stack), "settled")


async def _partly_repaid(stack: dict[str, Any]) -> dict[str, Any]:
    http: httpx.AsyncClient = stack["http"]
    bank = bank_headers(stack)
    sims = stack["sims"]
    original = sims.new_contract

    async def in_jiangyin(**overrides: Any) -> Any:
        purchaser = Purchaser(code="WX-JY-EDU", name="江阴市教育局", district="江阴市")
        return await original(purchaser=purchaser, **overrides)

    sims.new_contract = in_jiangyin
    try:
        app_id, _ = await disbursed(stack, "6222020000000302", "300000.00")
    finally:
        sims.new_contract = original
    today = datetime.now(SHANGHAI).date().isoformat()
    repayment = {"repayment_id": f"R-{uuid.uuid4().hex[:8]}", "amount": "100000.00", "paid_on": today}
    answer = await http.post(f"/v1/applications/{app_id}/repayments", json=repayment, headers=bank)
    assert answer.status_code == 200, answer.text
    view: dict[str, Any] = {}
    for _ in range(200):  # applied right after the answer: a bounded poll of a condition
        view = (await http.get(f"/v1/applications/{app_id}", headers=bank)).json()
        if view["principal_repaid"] != "0.00":
            return view
        await asyncio.sleep(0.05)
    raise AssertionError(f"the repayment was never applied: {view}")


async def _submitted(stack: dict[str, Any]) -> str:
    contract = await stack["sims"].new_contract()
    body = application_body(contract, "6222020000000303", "200000.00")
    answer = await stack["http"].post("/v1/applications", json=body, headers=bank_headers(stack))
    assert answer.status_code == 201, answer.text
    return str(answer.json()["application_id"])


def _money(views: list[dict[str, Any]], key: str) -> Decimal:
    return sum((D(v[key]) for v in views if v[key] is not None), D("0.00"))


async def test_the_bureaus_figures_add_up_to_the_applications(stack: dict[str, Any]) -> None:
    http: httpx.AsyncClient = stack["http"]
    ops = ops_headers(stack)
    before = (await http.get("/v1/stats", headers=ops)).json()  # the module's other tests' loans

    settled = await _settled_by_the_treasury(stack)
    repaying = await _partly_repaid(stack)
    rejected_id = await _submitted(stack)
    decision = {"decision": "reject", "reason": "不符合授信条件"}
    refused = await http.post(f"/v1/applications/{rejected_id}/decision", json=decision, headers=bank_headers(stack))
    assert refused.status_code == 200 and refused.json()["stage"] == "rejected"
    waiting_id = await _submitted(stack)
    loans = [settled, repaying]

    after = (await http.get("/v1/stats", headers=ops)).json()
    for key, grown in (
        ("credit_granted", _money(loans, "approved_amount")),
        ("financing_disbursed", D("800000.00")),
        ("outstanding", D(repaying["outstanding_principal"])),
    ):
        assert D(after[key]) - D(before[key]) == grown, key
    assert after["smes_served"] - before["smes_served"] == 2
    assert D(repaying["outstanding_principal"]) == D("300000.00") - D(repaying["principal_repaid"])
    assert D(settled["principal_repaid"]) == D("500000.00") and settled["outstanding_principal"] == "0.00"

    # everything here happened today: today's period holds exactly this module's business
    today = datetime.now(SHANGHAI).date()
    period = (await http.get(f"/v1/stats?from={today}&to={today}", headers=ops)).json()
    whole = (await http.get(f"/v1/stats?from=2026-01-01&to={today}", headers=ops)).json()
    assert whole == after  # a period up to today is all time (every loan of the module is this year's)
    assert D(period["financing_disbursed"]) >= D("800000.00")
    assert period["applications"]["rejected"] >= 1 and period["applications"]["bank_review"] >= 1
    assert period["disbursement_days"] == {"median": "0.0", "within_7_working_days": "1.00"}  # paid out the same day
    yesterday = today - timedelta(days=1)
    earlier = (await http.get(f"/v1/stats?from=2026-01-01&to={yesterday}", headers=ops)).json()
    assert (earlier["credit_granted"], earlier["outstanding"], earlier["disbursement_days"]) == ("0.00", "0.00", None)
    assert sum(earlier["applications"].values()) == 0

    by_district = {d["district"]: d for d in period["by_district"]}
    assert D(by_district["江阴市"]["financing_disbursed"]) == D("300000.00")
    assert D(by_district["江阴市"]["outstanding"]) == D(repaying["outstanding_principal"])
    for key in ("credit_granted", "financing_disbursed", "outstanding"):
        assert sum((D(b[key]) for b in period["by_bank"]), D(0)) == D(period[key])
        assert sum((D(d[key]) for d in period["by_district"]), D(0)) == D(period[key])

    # this month: the loans and the principal that came back
    month = today.strftime("%Y-%m")
    [item] = (await http.get(f"/v1/stats/monthly?from={month}&to={month}", headers=ops)).json()["items"]
    assert item["credit_granted"] == period["credit_granted"]
    assert item["financing_disbursed"] == period["financing_disbursed"]
    repaid_here = D(settled["principal_repaid"]) + D(repaying["principal_repaid"])
    assert D(item["repaid"]) >= repaid_here and item["loans"] >= 2

    # the export: the ICBC and 江阴市 rows are the figures above
    export = await http.get(f"/v1/stats/export.csv?from={today}&to={today}", headers=ops)
    rows = list(csv.reader(io.StringIO(export.content.decode("utf-8-sig"))))
    icbc = next(r for r in rows if r[1] == "ICBC")
    assert icbc[3:6] == [period["by_bank"][0][k] for k in ("credit_granted", "financing_disbursed", "outstanding")]
    jiangyin = next(r for r in rows if r[0] == "区域" and r[2] == "江阴市")
    assert jiangyin[4:6] == ["300000.00", by_district["江阴市"]["outstanding"]]

    # the bureau's page, signed in like a browser, shows the same figures
    async with httpx.AsyncClient(base_url=str(http.base_url), timeout=30) as browser:
        signed = await browser.post("/bureau/login", data={"ops_key": stack["keys"]["ops"]})
        assert signed.status_code == 303
        page = await browser.get("/bureau/")
        shown = dict(re.findall(r'data-figure="([^"]+)" data-value="([^"]*)"', page.text))
        stats = (await http.get("/v1/stats", headers=ops)).json()
        assert shown["credit_granted"] == stats["credit_granted"]
        assert shown["outstanding"] == stats["outstanding"]
        assert shown["disbursement_days.median"] == stats["disbursement_days"]["median"]
        assert period["applications"]["bank_review"] >= 1 and waiting_id  # the one still waiting for the bank
