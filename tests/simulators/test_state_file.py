"""With a state file, a restarted simulator remembers what it did — payouts, idempotency
keys, contracts and their payee accounts, locks — as `make run` expects after a restart."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
from fastapi import FastAPI

from domain.settings import Settings
from simulators.bank import create_bank_app
from simulators.procurement import create_procurement_app
from simulators.treasury import create_treasury_app

SETTINGS = Settings(api_url="http://127.0.0.1:9")  # nothing listens: callbacks are not under test


@asynccontextmanager
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://sim") as http:
        yield http


PAYOUT = {
    "application_id": "APP-1",
    "bank_code": "ICBC",
    "contract_no": "WX-2026-1",
    "amount": "700000.00",
    "account_no": "6222020000000001",
    "account_name": "某某",
}


async def test_the_bank_remembers_payouts_and_keys(tmp_path: Path) -> None:
    state = tmp_path / "bank.json"
    async with client(create_bank_app(SETTINGS, state)) as bank:
        first = await bank.post("/disbursements", json=PAYOUT, headers={"Idempotency-Key": "k1"})
    assert first.status_code == 201

    async with client(create_bank_app(SETTINGS, state)) as restarted:
        again = await restarted.post("/disbursements", json=PAYOUT, headers={"Idempotency-Key": "k1"})
        listed = (await restarted.get("/sim/disbursements")).json()["items"]
    assert again.json() == first.json()
    assert [d["disbursement_id"] for d in listed] == [first.json()["disbursement_id"]]


async def test_without_a_state_file_a_restart_forgets() -> None:
    async with client(create_bank_app(SETTINGS)) as bank:
        await bank.post("/disbursements", json=PAYOUT, headers={"Idempotency-Key": "k1"})
    async with client(create_bank_app(SETTINGS)) as restarted:
        assert (await restarted.get("/sim/disbursements")).json()["items"] == []


async def test_procurement_and_treasury_remember_accounts_financings_and_locks(tmp_path: Path) -> None:
    contract = {
        "contract_no": "WX-2026-9",
        "project_name": "道路照明维护",
        "purchaser": {"code": "WX-BH-PARKS", "name": "无锡市滨湖区园林管理中心", "district": "滨湖区"},
        "supplier": {"credit_code": "91320200000000019X", "name": "某某"},
        "amount": "500000.00",
        "paid_amount": "0.00",
        "signed_on": "2026-08-01",
        "expected_payment_date": "2027-02-01",
        "status": "effective",
        "payee_account_no": "6222000000000000",
    }
    procurement_state, treasury_state = tmp_path / "p.json", tmp_path / "t.json"
    async with client(create_procurement_app(SETTINGS, procurement_state)) as procurement:
        assert (await procurement.post("/sim/contracts", json=contract)).status_code == 201
        registration = {
            "application_id": "A",
            "bank_code": "ICBC",
            "amount": "1.00",
            "supplier_credit_code": "91320200000000019X",
        }
        r = await procurement.post(
            "/contracts/WX-2026-9/financing", json=registration, headers={"Idempotency-Key": "r"}
        )
        assert r.status_code == 201
        change = {"application_id": "A", "account_no": "6222111100000000", "account_name": "某某", "bank_code": "ICBC"}
        await procurement.post("/contracts/WX-2026-9/payee-change", json=change, headers={"Idempotency-Key": "c"})
        answer = {"decision": "confirmed", "note": "电话确认"}
        await procurement.post(
            "/contracts/WX-2026-9/payee-change/A/offline-answer", json=answer, headers={"Idempotency-Key": "o"}
        )
    async with client(create_treasury_app(SETTINGS, treasury_state)) as treasury:
        lock = {
            "application_id": "A",
            "contract_no": "WX-2026-9",
            "account_no": "6222111100000000",
            "bank_code": "ICBC",
        }
        assert (await treasury.post("/payee-locks", json=lock, headers={"Idempotency-Key": "l"})).status_code == 201

    async with client(create_procurement_app(SETTINGS, procurement_state)) as procurement:
        assert (await procurement.get("/contracts/WX-2026-9")).json()["payee_account_no"] == "6222111100000000"
        assert (await procurement.get("/contracts/WX-2026-9/financing")).json()["application_id"] == "A"
        restore = {"application_id": "A", "reason": "settled"}
        restored = await procurement.post(
            "/contracts/WX-2026-9/payee-restore", json=restore, headers={"Idempotency-Key": "x"}
        )
        assert restored.json() == {"status": "restored"}
        assert (await procurement.get("/contracts/WX-2026-9")).json()["payee_account_no"] == "6222000000000000"
    async with client(create_treasury_app(SETTINGS, treasury_state)) as treasury:
        assert (await treasury.get("/payee-locks/WX-2026-9")).json()["application_id"] == "A"
