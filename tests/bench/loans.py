"""Loans driven as their bank, purchaser and treasury drive them, through the public API and the
simulators' test hooks only (API.md; README's curl tour; tests/e2e/driving.py does the same
synchronously): the bank submits with an Idempotency-Key and approves, the purchaser confirms
the payee change in the procurement system (which calls the platform back, signed), the
treasury pays the contract in full (a signed notice). Nothing here reads the platform's
database or Temporal."""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import httpx

from domain.credit_code import make_credit_code

CONTRACT_AMOUNT = Decimal("1000000.00")
REQUESTED = Decimal("700000.00")
ANNUAL_RATE = Decimal("0.0385")
POLL_SECONDS = 0.1  # how often the bank reads its application while it waits for a stage
FINAL = frozenset({"settled", "rejected", "withdrawn", "expired", "failed", "written_off"})


class LoanFailed(RuntimeError):
    pass


@dataclass
class Loan:
    contract_no: str
    supplier_credit_code: str
    bank_code: str
    account_no: str
    application_id: str = ""
    submit_seconds: float = 0.0  # POST /v1/applications → 201
    settle_seconds: float = 0.0  # POST /sim/pay → the application reads settled
    reads: int = 0  # GETs while waiting


@dataclass
class Platform:
    dev: dict[str, Any]
    http: httpx.AsyncClient
    banks: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.api = self.dev["api"].rstrip("/")
        self.sims = {name: url.rstrip("/") for name, url in self.dev["simulators"].items()}
        self.banks = sorted(self.dev["credentials"]["banks"])

    def bank(self, bank_code: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.dev['credentials']['banks'][bank_code]}"}

    async def contract(self, n: int) -> Loan:
        """The procurement system knows an effective contract (set up before the clock runs)."""
        contract_no = f"WX-2026-B{uuid.uuid4().hex[:8].upper()}"
        credit_code = make_credit_code("91320200", f"{uuid.uuid4().int % 100_000_000:08d}")
        body = {
            "contract_no": contract_no,
            "project_name": "智慧校园设备采购",
            "purchaser": {"code": "WX-LX-EDU", "name": "无锡市梁溪区教育局", "district": "梁溪区"},
            "supplier": {"credit_code": credit_code, "name": "无锡某某科技有限公司"},
            "amount": f"{CONTRACT_AMOUNT:.2f}",
            "paid_amount": "0.00",
            "signed_on": "2026-09-01",
            "expected_payment_date": "2027-03-31",
            "status": "effective",
            "payee_account_no": f"6217{uuid.uuid4().int % 10**12:012d}",
        }
        answer = await self.http.post(f"{self.sims['procurement']}/sim/contracts", json=body)
        _expect(answer, 201)
        return Loan(
            contract_no=contract_no,
            supplier_credit_code=credit_code,
            bank_code=self.banks[n % len(self.banks)],
            account_no=f"6222{uuid.uuid4().int % 10**12:012d}",
        )

    async def submit(self, loan: Loan) -> None:
        body = {
            "contract_no": loan.contract_no,
            "supplier_credit_code": loan.supplier_credit_code,
            "product_code": "STD",
            "requested_amount": f"{REQUESTED:.2f}",
            "collection_account": {"account_no": loan.account_no, "account_name": "无锡某某科技有限公司"},
        }
        headers = {**self.bank(loan.bank_code), "Idempotency-Key": f"bench-{uuid.uuid4().hex}"}
        started = time.perf_counter()
        answer = await self.http.post(f"{self.api}/v1/applications", json=body, headers=headers)
        loan.submit_seconds = time.perf_counter() - started
        view = _expect(answer, 201)
        if view["stage"] != "bank_review":
            raise LoanFailed(f"submitted into {view['stage']}: {view}")
        loan.application_id = view["application_id"]

    async def approve(self, loan: Loan) -> None:
        body = {
            "decision": "approve",
            "approved_amount": f"{REQUESTED:.2f}",
            "annual_rate": str(ANNUAL_RATE),
            "term_days": 180,
        }
        url = f"{self.api}/v1/applications/{loan.application_id}/decision"
        _expect(await self.http.post(url, json=body, headers=self.bank(loan.bank_code)), 200)

    async def purchaser_confirms(self, loan: Loan) -> None:
        url = f"{self.sims['procurement']}/sim/contracts/{loan.contract_no}/account-change"
        _expect(await self.http.post(url, json={"decision": "confirmed"}), 200)

    async def treasury_pays(self, loan: Loan, paid_on: str) -> None:
        body = {"contract_no": loan.contract_no, "amount": f"{CONTRACT_AMOUNT:.2f}", "paid_on": paid_on}
        _expect(await self.http.post(f"{self.sims['treasury']}/sim/pay", json=body), 200)

    async def until(self, loan: Loan, stage: str, within: float = 120) -> dict[str, Any]:
        deadline = time.monotonic() + within
        url = f"{self.api}/v1/applications/{loan.application_id}"
        while True:
            view = _expect(await self.http.get(url, headers=self.bank(loan.bank_code)), 200)
            loan.reads += 1
            if view["stage"] == stage:
                return view
            if view["stage"] in FINAL or time.monotonic() > deadline:
                raise LoanFailed(f"{loan.application_id} never reached {stage}: {view['stage']}")
            await asyncio.sleep(POLL_SECONDS)

    # ---- whole loans ------------------------------------------------------------------

    async def to_repaying(self, loan: Loan) -> dict[str, Any]:
        await self.submit(loan)
        await self.approve(loan)
        await self.purchaser_confirms(loan)
        return await self.until(loan, "repaying")

    async def settle(self, loan: Loan) -> None:
        view = await self.to_repaying(loan)
        started = time.perf_counter()
        await self.treasury_pays(loan, view["disbursed_on"])
        settled = await self.until(loan, "settled")
        loan.settle_seconds = time.perf_counter() - started
        if Decimal(settled["principal_repaid"]) != REQUESTED or Decimal(settled["outstanding_principal"]) != 0:
            raise LoanFailed(f"{loan.application_id} settled without its principal repaid: {settled}")


def _expect(answer: httpx.Response, status: int) -> dict[str, Any]:
    if answer.status_code != status:
        raise LoanFailed(f"{answer.request.method} {answer.request.url.path}: {answer.status_code} {answer.text}")
    body: dict[str, Any] = answer.json()
    return body
