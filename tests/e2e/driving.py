"""Drive financings through a running stack exactly as API.md describes, from its dev.json,
with `outside_world` (the client the demo uses).

A bank submits with its own key and decides; the purchaser answers in the procurement
simulator (`POST /sim/contracts/{no}/account-change`, which sends the signed callback); the
treasury pays through `POST /sim/pay` (which sends the signed payment notification). Nothing
here reaches into the platform's database or Temporal: only the public API and the
simulators' test hooks.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any, Literal

from domain.stages import FINAL_STAGES, Stage
from outside_world import Handoff, OutsideWorld
from outside_world.bank import Bank, application_request
from outside_world.money import one_day_interest
from outside_world.procurement import SUPPLIER_NAME, fresh_contract

__all__ = ["FINAL_STAGES", "Loan", "Platform", "one_day_interest"]
ACCOUNT_NAME = SUPPLIER_NAME


@dataclass
class Loan:
    """One financing of a batch, as its bank knows it."""

    contract_no: str
    supplier_credit_code: str
    bank_code: str
    requested_amount: Decimal
    account_no: str
    application_id: str = ""
    annual_rate: Decimal = Decimal("0.0385")
    term_days: int = 180


@dataclass
class Platform:
    """The stack's public surfaces, as its users reach them."""

    world: OutsideWorld

    @classmethod
    @asynccontextmanager
    async def of(cls, dev: dict[str, Any]) -> AsyncIterator[Platform]:
        async with OutsideWorld.connected(Handoff.from_document(dev)) as world:
            yield cls(world)

    def bank(self, loan: Loan) -> Bank:
        return self.world.bank(loan.bank_code)

    # ---- the procurement system holds the contract ------------------------------------

    async def new_loan(self, bank_code: str, requested_amount: str = "700000.00", amount: str = "1000000.00") -> Loan:
        """A fresh effective contract in the procurement simulator, and the loan to ask for on it."""
        contract = fresh_contract("WX-2026-R", Decimal(amount))
        await self.world.procurement.create_contract(contract)
        return Loan(
            contract_no=contract.contract_no,
            supplier_credit_code=contract.supplier.credit_code,
            bank_code=bank_code,
            requested_amount=Decimal(requested_amount),
            account_no=f"6222{uuid.uuid4().int % 10**12:012d}",
        )

    # ---- the bank --------------------------------------------------------------------

    async def submit(self, loan: Loan) -> dict[str, Any]:
        request = application_request(
            loan.contract_no, loan.supplier_credit_code, loan.requested_amount, loan.account_no, ACCOUNT_NAME
        )
        view = await self.bank(loan).submit(request)
        assert view["stage"] == "bank_review", view
        loan.application_id = view["application_id"]
        return view

    async def approve(self, loan: Loan) -> dict[str, Any]:
        return await self.bank(loan).approve(
            loan.application_id, loan.requested_amount, loan.annual_rate, loan.term_days
        )

    async def application(self, loan: Loan) -> dict[str, Any]:
        return await self.bank(loan).application(loan.application_id)

    async def until(
        self, loan: Loan, *stages: str, within: float = 60, where: Callable[[dict[str, Any]], bool] | None = None
    ) -> dict[str, Any]:
        """Poll the application until it is in one of `stages` (and `where(view)` holds)."""
        wanted = {Stage(s) for s in stages}

        def done(view: dict[str, Any]) -> bool:
            return view["stage"] in wanted and (where is None or where(view))

        return await self.bank(loan).until(loan.application_id, done, f"{stages}", within=within)

    # ---- the purchaser, through the procurement system -------------------------------

    async def purchaser_answers(
        self, loan: Loan, decision: Literal["confirmed", "refused"] = "confirmed"
    ) -> dict[str, Any]:
        return await self.world.procurement.purchaser_answers(loan.contract_no, decision)

    # ---- the treasury ----------------------------------------------------------------

    async def treasury_pays(self, loan: Loan, amount: str, paid_on: str) -> dict[str, Any]:
        return await self.world.treasury.pay(loan.contract_no, Decimal(amount), paid_on=date.fromisoformat(paid_on))

    # ---- what the simulated systems recorded -----------------------------------------

    async def disbursements(self, loan: Loan | None = None) -> list[dict[str, Any]]:
        return await self.world.bank_systems.disbursements(contract_no=loan.contract_no if loan else None)

    async def repayments(self, loan: Loan) -> list[dict[str, Any]]:
        return await self.world.bank_systems.repayments(contract_no=loan.contract_no)

    async def payments(self, loan: Loan | None = None) -> list[dict[str, Any]]:
        return await self.world.treasury.payments(loan.contract_no if loan else None)
