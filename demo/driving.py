"""Driving one financing of the demo's plan, as the outside world does it: the bank through the
public API with its key, the purchaser in the procurement system, the treasury paying (or its
sender signing a notice), operations recording an offline answer — all through
`outside_world`, never the platform's database."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import ROUND_DOWN, Decimal
from typing import Any

import httpx

from demo.plan import OFFLINE_LOCK, Plan, Scenario
from domain.application import SHANGHAI
from domain.contracts import Contract, ContractStatus, Purchaser, Supplier
from domain.money import FEN
from domain.stages import Stage
from outside_world import OutsideWorld, Retry, Unanswered, Unexpected
from outside_world.bank import Bank, NotReached, application_request
from outside_world.calls import Attempts
from outside_world.money import settling_amount

SUBMIT = Retry(attempts=3, retry_on=lambda status: False)  # a bank asks again when it heard nothing
# the treasury's retries of a payment it could not make or confirm: 502 when it cannot reach
# the procurement system for the payee account, or no answer at all
PAY = Retry(attempts=5, retry_on=lambda status: status >= 500, pause=lambda attempt: 0.5 * attempt)


class DemoError(Exception):
    """Something the person running the demo must hear about, in words."""


@dataclass
class Outcome:
    plan: Plan
    application_id: str | None = None
    error: str | None = None


def contract_of(plan: Plan, today: date) -> Contract:
    """The contract the procurement system holds for the plan, signed a month ago."""
    code, name, district = plan.purchaser
    return Contract(
        contract_no=plan.contract_no,
        project_name=plan.project,
        purchaser=Purchaser(code=code, name=name, district=district),
        supplier=Supplier(credit_code=plan.supplier_code, name=plan.supplier_name),
        amount=plan.contract_amount,
        paid_amount=Decimal("0.00"),
        signed_on=today - timedelta(days=30),
        expected_payment_date=today + timedelta(days=150),
        status=ContractStatus.EFFECTIVE,
        payee_account_no=plan.supplier_account,
    )


def business_today() -> date:
    return datetime.now(SHANGHAI).date()


@dataclass
class Driver:
    """The outside world of one run: a bank per key, ops, the purchaser and the treasury."""

    world: OutsideWorld
    stage_timeout: float = 60.0

    async def drive(self, plan: Plan) -> Outcome:
        outcome = Outcome(plan)
        try:
            await self._drive(plan, outcome)
        except (DemoError, Unanswered, Unexpected, NotReached, httpx.HTTPError) as error:
            outcome.error = str(error) or repr(error)
        return outcome

    async def _wait(self, bank: Bank, app_id: str, stage: Stage) -> dict[str, Any]:
        return await bank.until_stage(app_id, stage, within=self.stage_timeout)

    async def _drive(self, plan: Plan, outcome: Outcome) -> None:
        world, bank = self.world, self.world.bank(plan.bank_code)
        await world.procurement.create_contract(contract_of(plan, date.today()))
        request = application_request(
            plan.contract_no, plan.supplier_code, plan.requested, plan.collection_account, plan.supplier_name
        )
        # The answer waits for verification and the hand-over to the bank, which retries against
        # slow or failing systems; a bank that hears nothing asks again with the same key and
        # gets the same application (API.md "Idempotency-Key"), never a second one.
        created = await bank.submit(request, idempotency_key=f"demo-{plan.contract_no}", retry=SUBMIT)
        app_id = outcome.application_id = str(created["application_id"])
        await self._wait(bank, app_id, Stage.BANK_REVIEW)
        scenario = plan.scenario
        if scenario is Scenario.WAITING:
            return
        if scenario is Scenario.REJECTED:
            await bank.reject(app_id, "经营流水不足 (demo)")
            await self._wait(bank, app_id, Stage.REJECTED)
            return
        await bank.approve(app_id, plan.approved, plan.annual_rate, plan.term_days)
        await self._wait(bank, app_id, Stage.ACCOUNT_LOCK)
        if scenario is Scenario.WITHDRAWN:
            await bank.withdraw(app_id)
            await self._wait(bank, app_id, Stage.WITHDRAWN)
            return
        if scenario is Scenario.LOCK_REFUSED:
            await world.procurement.purchaser_answers(plan.contract_no, "refused")
            await self._wait(bank, app_id, Stage.FAILED)
            return
        if scenario in OFFLINE_LOCK:
            await world.ops.record_lock_answer(app_id, "confirmed", "采购人线下书面确认 (demo)")
        else:
            await world.procurement.purchaser_answers(plan.contract_no, "confirmed")
        repaying = await self._wait(bank, app_id, Stage.REPAYING)
        await self.repay(plan, app_id, bank, repaying)

    async def repay(self, plan: Plan, app_id: str, bank: Bank, repaying: dict[str, Any]) -> None:
        """What happens once the loan is out: the treasury pays, or the supplier repays early."""
        scenario = plan.scenario
        if scenario is Scenario.DISBURSED:
            return
        if scenario is Scenario.MISDIRECTED:
            await self.treasury_pays_elsewhere(plan, app_id, bank)
            return
        if scenario is Scenario.EARLY_REPAID:
            # The supplier repays principal and the day's interest at its bank, on the
            # disbursement day; the bank reports it. Exactly enough: the loan settles with no surplus.
            amount = settling_amount(plan.approved, repaying)
            paid_on = date.fromisoformat(repaying["disbursed_on"])
            status = await bank.report_repayment(app_id, f"{plan.contract_no}-R1", amount, paid_on)
            if status != "accepted":
                raise DemoError(f"application {app_id}: the bank's repayment was answered {status}")
            await self._wait(bank, app_id, Stage.SETTLED)
            return
        if scenario in (Scenario.PARTIAL, Scenario.PAID_IN_TWO):
            first = (plan.approved * Decimal("0.4")).quantize(FEN, ROUND_DOWN)
            await self.treasury_pays(plan, first, 1)
            await bank.until(
                app_id,
                lambda view: view["principal_repaid"] != "0.00",
                "a first repayment booked",
                within=self.stage_timeout,
            )
            if scenario is Scenario.PARTIAL:
                return
            await self.treasury_pays(plan, plan.contract_amount - first, 2)  # the rest of the contract
        else:
            await self.treasury_pays(plan, plan.contract_amount, 1)  # the whole contract at once
        await self._wait(bank, app_id, Stage.SETTLED)

    async def treasury_pays(self, plan: Plan, amount: Decimal, n: int) -> None:
        """The treasury pays contract money. The payment has its own id, so when it has to try
        again it never pays twice; a notification that did arrive comes back `duplicate`."""
        attempts = Attempts()
        payment_id = f"{plan.contract_no}-P{n}"
        paid = await self.world.treasury.pay(
            plan.contract_no, amount, payment_id=payment_id, retry=PAY, attempts=attempts
        )
        # after an attempt with no answer, an earlier one may have been notified already
        statuses = {"accepted", "duplicate"} if attempts.tried else {"accepted"}
        if paid.get("platform_status") not in statuses:
            raise DemoError(f"contract {plan.contract_no}: the treasury's payment was answered {paid}")

    async def treasury_pays_elsewhere(self, plan: Plan, app_id: str, bank: Bank) -> None:
        """The treasury's own signed notice of a payment into the supplier's old account (the
        payee before the lock): kept for ops, not credited, and the loan needs a person."""
        status = await self.world.treasury.notice(
            f"{plan.contract_no}-M1", plan.contract_no, plan.supplier_account, plan.contract_amount, business_today()
        )
        if status != "misdirected":
            raise DemoError(f"contract {plan.contract_no}: a misdirected payment was answered {status}")
        await bank.until(
            app_id, lambda view: bool(view["needs_attention"]), "flagged for attention", within=self.stage_timeout
        )


async def drive_all(driver: Driver, plans: list[Plan], concurrency: int, advance: Any = None) -> list[Outcome]:
    """Every plan, `concurrency` at a time; `advance()` after each (a progress bar)."""
    gate = asyncio.Semaphore(concurrency)

    async def one(plan: Plan) -> Outcome:
        async with gate:
            outcome = await driver.drive(plan)
        if advance is not None:
            advance()
        return outcome

    return list(await asyncio.gather(*(one(plan) for plan in plans)))
