"""Over the real stack (the end-to-end module's `stack` fixture: one per module, so its own
database): two banks' worth of concurrency on one contract, and the finance bureau's
figures moving by exactly one loan."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any

import asyncpg
import httpx
import pytest

from store.registry import RegistryRepository
from tests.api.test_end_to_end import stack, until

__all__ = ["stack"]  # the fixture, shared with the end-to-end module

pytestmark = pytest.mark.e2e

FIGURES = ("credit_granted", "financing_disbursed", "outstanding")


def application(contract: Any, amount: str, account_no: str) -> dict[str, Any]:
    return {
        "contract_no": contract.contract_no,
        "supplier_credit_code": contract.supplier.credit_code,
        "product_code": "STD",
        "requested_amount": amount,
        "collection_account": {"account_no": account_no, "account_name": "无锡某某科技有限公司"},
    }


async def test_concurrent_submissions_for_one_contract(stack: dict[str, Any], db_pool: asyncpg.Pool) -> None:
    http: httpx.AsyncClient = stack["http"]
    bank = {"Authorization": f"Bearer {stack['keys']['banks']['ICBC']}"}
    contract = await stack["sims"].new_contract()
    body = application(contract, "500000.00", "6222020000000011")
    answers = await asyncio.gather(
        http.post("/v1/applications", json=body, headers={**bank, "Idempotency-Key": "race-a"}),
        http.post("/v1/applications", json=body, headers={**bank, "Idempotency-Key": "race-b"}),
    )
    assert sorted(a.status_code for a in answers) == [201, 409], [a.text for a in answers]
    won = next(a for a in answers if a.status_code == 201).json()
    lost = next(a for a in answers if a.status_code == 409)
    assert lost.json()["code"] == "contract_already_financed"
    assert won["stage"] == "bank_review"

    holder = await RegistryRepository(db_pool).holder(contract.contract_no)
    assert holder is not None and holder.application_id == won["application_id"]
    active = await db_pool.fetchval(
        "SELECT count(*) FROM financing_registry WHERE contract_no = $1 AND released_at IS NULL",
        contract.contract_no,
    )
    assert active == 1
    listed = (await http.get(f"/v1/applications?contract_no={contract.contract_no}", headers=bank)).json()
    assert [item["application_id"] for item in listed["items"]] == [won["application_id"]]


def money(figures: dict[str, Any] | None) -> dict[str, Decimal]:
    return {name: Decimal((figures or {}).get(name, "0.00")) for name in FIGURES}


def entry(rows: list[dict[str, Any]], key: str, value: str) -> dict[str, Any] | None:
    return next((row for row in rows if row[key] == value), None)


def assert_two_places(stats: dict[str, Any]) -> None:
    for rows in ([stats], stats["by_bank"], stats["by_district"]):
        for row in rows:
            for name in FIGURES:
                assert isinstance(row[name], str) and Decimal(row[name]).as_tuple().exponent == -2, (name, row)


async def test_stats_move_by_exactly_one_loan(stack: dict[str, Any]) -> None:
    http: httpx.AsyncClient = stack["http"]
    sims = stack["sims"]
    bank = {"Authorization": f"Bearer {stack['keys']['banks']['ICBC']}"}
    ops = {"Authorization": f"Bearer {stack['keys']['ops']}"}
    contract = await sims.new_contract()
    district = contract.purchaser.district

    before = (await http.get("/v1/stats", headers=ops)).json()
    submitted = await http.post(
        "/v1/applications", json=application(contract, "650000.00", "6222020000000012"), headers=bank
    )
    assert submitted.status_code == 201, submitted.text
    app_id = submitted.json()["application_id"]
    decision = {"decision": "approve", "approved_amount": "600000.00", "annual_rate": "0.0385", "term_days": 180}
    decided = await http.post(f"/v1/applications/{app_id}/decision", json=decision, headers=bank)
    assert decided.status_code == 200, decided.text
    path = f"/sim/contracts/{contract.contract_no}/account-change"
    assert (await sims.hook("procurement", "POST", path, {"decision": "confirmed"})).status_code < 300
    view = await until(http, f"/v1/applications/{app_id}", bank, "repaying")
    assert view["outstanding_principal"] == "600000.00"
    after = (await http.get("/v1/stats", headers=ops)).json()

    loan = {name: Decimal("600000.00") for name in FIGURES}
    assert_two_places(after)
    moved = {name: money(after)[name] - money(before)[name] for name in FIGURES}
    assert moved == loan
    assert after["smes_served"] - before["smes_served"] == 1

    for rows, key, value in (("by_bank", "bank_code", "ICBC"), ("by_district", "district", district)):
        was, now = entry(before[rows], key, value), entry(after[rows], key, value)
        assert now is not None, (rows, after[rows])
        assert {name: money(now)[name] - money(was)[name] for name in FIGURES} == loan, (rows, was, now)
        assert now["loans"] - (was or {}).get("loans", 0) == 1, (rows, was, now)
    others = [row for row in after["by_bank"] if row["bank_code"] != "ICBC"]
    assert all(row == entry(before["by_bank"], "bank_code", row["bank_code"]) for row in others)
