"""Drive each planned loan end to end through the public API, as its bank, purchaser and the
treasury would, measuring the two delays a user feels: submit → 201 and payment → applied.

A loan whose step does not complete in time is written down with the step (`stuck_at`) and
left alone: the settle-down gives every loan more time before the checks judge it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import ROUND_DOWN, Decimal
from typing import Any

from domain.money import FEN, ZERO, money_str
from outside_world.money import settling_amount
from tests.chaos.outside_world import ACCOUNT_NAME, StepFailed, World, business_today
from tests.chaos.scenarios import ANNUAL_RATE, TERM_DAYS, LoanPlan, Scenario


@dataclass
class Delays:
    """Seconds, per phase: what the bank waited for its 201, what the treasury waited until
    its payment showed on the application."""

    submit: dict[str, list[float]] = field(default_factory=lambda: {"calm": [], "chaos": []})
    payment: dict[str, list[float]] = field(default_factory=lambda: {"calm": [], "chaos": []})


@dataclass
class Loan:
    plan: LoanPlan
    application_id: str | None = None
    stuck_at: str | None = None  # the step that did not complete while driving


def received(view: dict[str, Any]) -> Decimal:
    """Everything the application shows as received and allocated."""
    parts = ("penalty_paid", "interest_paid", "principal_repaid", "surplus_released")
    return sum((Decimal(view[p]) for p in parts), ZERO)


@dataclass
class Driver:
    world: World
    delays: Delays = field(default_factory=Delays)
    started: int = 0  # loans started so far: the monkey spreads its restarts over this

    async def drive(self, plan: LoanPlan) -> Loan:
        loan = Loan(plan)
        self.started += 1
        try:
            await self._drive(loan)
        except StepFailed as failure:
            loan.stuck_at = str(failure)
        return loan

    async def _drive(self, loan: Loan) -> None:
        plan, world = loan.plan, self.world
        contract = await world.request(
            "POST", f"{world.sim('procurement')}/sim/contracts", json_body=contract_body(plan)
        )
        if contract.status_code != 201:
            raise StepFailed(f"contract {plan.contract_no}: {contract.status_code} {contract.text[:200]}")
        app_id = await self.submit(plan)
        loan.application_id = app_id
        if plan.scenario is Scenario.REJECTED:
            body = {"decision": "reject", "reason": "经营流水不足 (chaos)"}
            await world.bank_change(
                plan.bank_code,
                f"/v1/applications/{app_id}/decision",
                body,
                f"{app_id}-decide",
                took_effect=lambda view: view["stage"] == "rejected",
                application_id=app_id,
            )
            return
        decision = {
            "decision": "approve",
            "approved_amount": money_str(plan.approved),
            "annual_rate": str(ANNUAL_RATE),
            "term_days": TERM_DAYS,
        }
        await world.bank_change(
            plan.bank_code,
            f"/v1/applications/{app_id}/decision",
            decision,
            f"{app_id}-decide",
            took_effect=lambda view: view["approved_amount"] == money_str(plan.approved),
            application_id=app_id,
        )
        if plan.scenario is Scenario.WITHDRAWN:
            await world.until(app_id, plan.bank_code, lambda v: v["stage"] == "account_lock", "reached account_lock")
            await world.bank_change(
                plan.bank_code,
                f"/v1/applications/{app_id}/withdraw",
                {},
                f"{app_id}-withdraw",
                took_effect=lambda view: view["stage"] == "withdrawn",
                application_id=app_id,
            )
            return
        answer = "refused" if plan.scenario is Scenario.REFUSED else "confirmed"
        await world.purchaser_answers_when_pending(plan.contract_no, answer)
        if plan.scenario is Scenario.REFUSED:
            return
        await world.payout_seen(plan.contract_no)
        await self.repay(loan, app_id)

    async def submit(self, plan: LoanPlan) -> str:
        body = {
            "contract_no": plan.contract_no,
            "supplier_credit_code": plan.supplier_code,
            "product_code": "STD",
            "requested_amount": money_str(plan.approved),
            "collection_account": {"account_no": plan.collection_account, "account_name": ACCOUNT_NAME},
        }
        began = time.monotonic()
        created = await self.world.bank_change(
            plan.bank_code, "/v1/applications", body, f"chaos-{plan.contract_no}", expect=201
        )
        self.delays.submit[plan.phase].append(time.monotonic() - began)
        return str(created["application_id"])

    async def repay(self, loan: Loan, app_id: str) -> None:
        """Money comes back the moment the payout exists, by the scenario's route."""
        plan, world = loan.plan, self.world
        today = business_today()
        scenario = plan.scenario
        if scenario is Scenario.SUPPLIER:
            view = await world.until(app_id, plan.bank_code, lambda v: v["stage"] == "repaying", "reached repaying")
            amount = settling_amount(plan.approved, view)  # by domain/repayment.py
            body = {"repayment_id": plan.payment_id("S1"), "amount": money_str(amount), "paid_on": view["disbursed_on"]}
            began = time.monotonic()
            answer = await world.bank_change(
                plan.bank_code, f"/v1/applications/{app_id}/repayments", body, f"{app_id}-r1"
            )
            world.sent.supplier_repayments[plan.payment_id("S1")] = (app_id, amount, answer.get("status"))
            await self.applied(plan, app_id, amount, began)
            return
        if scenario is Scenario.MISDIRECTED:
            # into the supplier's old account: kept for ops, not credited; then paid right
            await world.notice_directly(
                plan.contract_no, plan.contract_amount, plan.payment_id("M1"), today, plan.supplier_account, False
            )
            await self.treasury_pays(plan, app_id, plan.contract_amount, "P1", ZERO)
            return
        if scenario is Scenario.FULL:
            notice = await self.treasury_pays(plan, app_id, plan.contract_amount, "P1", ZERO)
            await world.notice_directly(
                plan.contract_no, plan.contract_amount, notice.payment_id, today, notice.payee_account_no, True
            )
            return
        if scenario is Scenario.TWO_PARTS:
            first = (plan.approved * Decimal("0.4")).quantize(FEN, ROUND_DOWN)
            p1 = await self.treasury_pays(plan, app_id, first, "P1", ZERO)
            await self.treasury_pays(plan, app_id, plan.contract_amount - first, "P2", first)
            # the first notice once more, after the second: a late duplicate
            await world.notice_directly(plan.contract_no, first, p1.payment_id, today, p1.payee_account_no, True)
            return
        # REORDERED: parts two and one reach the platform second-first, straight from the
        # treasury's sender; the treasury's own system then pays both (the platform hears
        # them again: duplicates) and the rest of the contract
        part = (plan.approved * Decimal("0.25")).quantize(FEN, ROUND_DOWN)
        began = time.monotonic()
        for name in ("P2", "P1"):
            await world.notice_directly(
                plan.contract_no, part, plan.payment_id(name), today, plan.collection_account, True
            )
        await self.applied(plan, app_id, 2 * part, began)
        for name in ("P1", "P2"):
            await world.treasury_pays(plan.contract_no, part, plan.payment_id(name), today, plan.collection_account)
        await self.treasury_pays(plan, app_id, plan.contract_amount - 2 * part, "P3", 2 * part)

    async def treasury_pays(self, plan: LoanPlan, app_id: str, amount: Decimal, part: str, before: Decimal) -> Any:
        began = time.monotonic()
        notice = await self.world.treasury_pays(
            plan.contract_no, amount, plan.payment_id(part), business_today(), plan.collection_account
        )
        await self.applied(plan, app_id, before + amount, began)
        return notice

    async def applied(self, plan: LoanPlan, app_id: str, total: Decimal, began: float) -> None:
        """Wait until the application shows `total` received; the delay is the payment's."""
        done: Callable[[dict[str, Any]], bool] = lambda view: received(view) >= total  # noqa: E731
        await self.world.until(app_id, plan.bank_code, done, f"showed {money_str(total)} received")
        self.delays.payment[plan.phase].append(time.monotonic() - began)


def contract_body(plan: LoanPlan) -> dict[str, Any]:
    """The contract the procurement system holds for the loan (its test hook's body)."""
    code, name, district = plan.purchaser
    today = business_today()
    return {
        "contract_no": plan.contract_no,
        "project_name": "智慧校园设备采购",
        "purchaser": {"code": code, "name": name, "district": district},
        "supplier": {"credit_code": plan.supplier_code, "name": ACCOUNT_NAME},
        "amount": money_str(plan.contract_amount),
        "paid_amount": "0.00",
        "signed_on": (today - timedelta(days=30)).isoformat(),
        "expected_payment_date": (today + timedelta(days=150)).isoformat(),
        "status": "effective",
        "payee_account_no": plan.supplier_account,
    }


async def drive_all(driver: Driver, plans: list[LoanPlan], concurrency: int) -> list[Loan]:
    gate = asyncio.Semaphore(concurrency)

    async def one(plan: LoanPlan) -> Loan:
        async with gate:
            return await driver.drive(plan)

    return list(await asyncio.gather(*(one(plan) for plan in plans)))
