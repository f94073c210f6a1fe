"""Loans driven as their bank, purchaser and treasury drive them, through the public API and the
simulators' test hooks only (API.md; README's curl tour), with `outside_world`, the client the
demo and the end-to-end tests use: the bank submits with an Idempotency-Key and approves, the
purchaser confirms the payee change in the procurement system (which calls the platform back, signed), the
treasury pays the contract in full (a signed notice). Nothing here reads the platform's
database or Temporal."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

import httpx

from domain.stages import Stage
from outside_world import Handoff, OutsideWorld
from outside_world.bank import application_request
from outside_world.procurement import SUPPLIER_NAME, fresh_contract

CONTRACT_AMOUNT = Decimal("1000000.00")
REQUESTED = Decimal("700000.00")
ANNUAL_RATE = Decimal("0.0385")
POLL_SECONDS = 0.1  # how often the bank reads its application while it waits for a stage
# a loan's steps, each timed: what the bank, the purchaser and the treasury do, and their waits
PHASES = ("submit", "approve", "confirm", "until repaying", "pay", "until settled")
ACCOUNT_NAME = SUPPLIER_NAME


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
    phases: dict[str, float] = field(default_factory=dict)  # seconds of each step (PHASES)


@contextmanager
def timed(loan: Loan, phase: str) -> Iterator[None]:
    started = time.perf_counter()
    try:
        yield
    finally:
        loan.phases[phase] = time.perf_counter() - started


@dataclass
class Platform:
    dev: dict[str, Any]
    http: httpx.AsyncClient
    banks: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.world = OutsideWorld(Handoff.from_document(self.dev), self.http)
        self.banks = self.world.handoff.bank_codes

    async def contract(self, n: int) -> Loan:
        """The procurement system knows an effective contract (set up before the clock runs)."""
        contract = fresh_contract("WX-2026-B", CONTRACT_AMOUNT)
        await self.world.procurement.create_contract(contract)
        return Loan(
            contract_no=contract.contract_no,
            supplier_credit_code=contract.supplier.credit_code,
            bank_code=self.banks[n % len(self.banks)],
            account_no=f"6222{uuid.uuid4().int % 10**12:012d}",
        )

    async def submit(self, loan: Loan) -> None:
        request = application_request(
            loan.contract_no, loan.supplier_credit_code, REQUESTED, loan.account_no, ACCOUNT_NAME
        )
        started = time.perf_counter()
        view = await self.world.bank(loan.bank_code).submit(request, idempotency_key=f"bench-{uuid.uuid4().hex}")
        loan.submit_seconds = time.perf_counter() - started
        if view["stage"] != Stage.BANK_REVIEW:
            raise LoanFailed(f"submitted into {view['stage']}: {view}")
        loan.application_id = view["application_id"]

    async def approve(self, loan: Loan) -> None:
        await self.world.bank(loan.bank_code).approve(loan.application_id, REQUESTED, ANNUAL_RATE, 180)

    async def purchaser_confirms(self, loan: Loan) -> None:
        await self.world.procurement.purchaser_answers(loan.contract_no, "confirmed")

    async def treasury_pays(self, loan: Loan, paid_on: str) -> None:
        await self.world.treasury.pay(loan.contract_no, CONTRACT_AMOUNT, paid_on=date.fromisoformat(paid_on))

    async def until(self, loan: Loan, stage: Stage, within: float = 120) -> dict[str, Any]:
        bank = self.world.bank(loan.bank_code)

        async def read(application_id: str) -> dict[str, Any]:
            loan.reads += 1
            return await bank.application(application_id)

        def reached(view: dict[str, Any]) -> bool:
            return view["stage"] == stage

        return await bank.until(loan.application_id, reached, stage, within=within, poll=POLL_SECONDS, read=read)

    # ---- whole loans ------------------------------------------------------------------

    async def to_repaying(self, loan: Loan) -> dict[str, Any]:
        with timed(loan, "submit"):
            await self.submit(loan)
        with timed(loan, "approve"):
            await self.approve(loan)
        with timed(loan, "confirm"):
            await self.purchaser_confirms(loan)
        with timed(loan, "until repaying"):
            return await self.until(loan, Stage.REPAYING)

    async def settle(self, loan: Loan) -> None:
        view = await self.to_repaying(loan)
        started = time.perf_counter()
        with timed(loan, "pay"):
            await self.treasury_pays(loan, view["disbursed_on"])
        with timed(loan, "until settled"):
            settled = await self.until(loan, Stage.SETTLED)
        loan.settle_seconds = time.perf_counter() - started
        if Decimal(settled["principal_repaid"]) != REQUESTED or Decimal(settled["outstanding_principal"]) != 0:
            raise LoanFailed(f"{loan.application_id} settled without its principal repaid: {settled}")
