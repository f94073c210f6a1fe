"""`zcd demo`: drive a realistic book of financings through a running platform, then check
that every money fact agrees.

The demo acts only as the outside world does — the banks through the public API, the
purchaser and the treasury through the simulators' test hooks (API.md, "The local stack's
hand-off file"), operations through the ops endpoints — so what it shows is what the
platform's users would see. It never reads the database.

It ends with a table (stages, money) and a reconciliation of three independent records of
this run's loans: the platform's own figures per application, the bank simulator's record of
every disbursement it executed, and the change of `GET /v1/stats` between a snapshot taken
before and one taken after the run (so it works on a platform that already holds loans).
The comparison functions take plain data, so they are unit-tested without a stack
(tests/unit/test_demo_reconciliation.py).
"""

from __future__ import annotations

import asyncio
import json
import random
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal
from enum import StrEnum
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from domain.application import SHANGHAI
from domain.credit_code import make_credit_code
from domain.money import FEN, ZERO, money_str
from domain.signing import SIGNATURE_HEADER, signature_header

FIGURES = ("credit_granted", "financing_disbursed", "outstanding")
DISBURSED_STAGES = frozenset({"repaying", "overdue", "settled", "written_off"})
STAGE_ORDER = (
    "verifying",
    "bank_review",
    "account_lock",
    "disbursing",
    "repaying",
    "overdue",
    "settled",
    "rejected",
    "withdrawn",
    "expired",
    "failed",
    "written_off",
)
MAX_RATIO = Decimal("0.90")  # product STD's, the same at every seeded bank (API.md "Products")
DAYS_IN_YEAR = 360  # actual/360 (API.md "Payments")
SUBMIT_ATTEMPTS = 3  # a bank's retries of a submission whose answer it did not get
PAY_ATTEMPTS = 5  # the treasury's retries of a payment it could not make or confirm

# Purchasers of the seeded districts (store/seed.py): the district on an application comes
# from its contract's purchaser, so these spread the book over the bureau's breakdown.
PURCHASERS: tuple[tuple[str, str, str], ...] = (
    ("WX-CITY-HEALTH", "无锡市卫生健康委员会", "无锡市"),
    ("WX-LX-EDU", "无锡市梁溪区教育局", "梁溪区"),
    ("WX-XS-WATER", "无锡市锡山区水利局", "锡山区"),
    ("WX-HS-TRANS", "无锡市惠山区交通运输局", "惠山区"),
    ("WX-BH-CULT", "无锡市滨湖区文化体育和旅游局", "滨湖区"),
    ("WX-XW-SCI", "无锡市新吴区科技局", "新吴区"),
    ("JY-HOSP", "江阴市人民医院", "江阴市"),
    ("YX-EDU", "宜兴市教育局", "宜兴市"),
    ("WX-KFQ-ADMIN", "无锡经济开发区管理委员会", "经开区"),
)
PROJECTS = (
    "智慧校园设备采购",
    "社区卫生服务中心设备",
    "河道保洁服务",
    "公交站台改造",
    "图书馆数字化",
    "政务云运维服务",
)
SUPPLIER_NAMES = ("科技", "信息", "环保", "建设", "医疗器械", "教育装备", "物业服务")


class DemoError(Exception):
    """Something the person running the demo must hear about, in words."""


class Unanswered(DemoError):
    """A request that got no answer (timeout, connection lost): it may or may not have acted."""


class Scenario(StrEnum):
    """What happens to one financing. Each is what a bank, a purchaser or the treasury does."""

    SETTLED = "settled by the treasury"  # online lock confirmation, one treasury payment
    PAID_IN_TWO = "two treasury payments"  # online confirmation, a partial then the rest
    PARTIAL = "partly paid"  # offline confirmation recorded by ops, a partial payment
    EARLY_REPAID = "early repayment"  # offline confirmation, the bank reports a full repayment
    DISBURSED = "disbursed, unpaid"  # online confirmation, nothing paid yet
    REJECTED = "rejected by the bank"
    LOCK_REFUSED = "lock refused"  # the purchaser refuses the payee-account change
    WITHDRAWN = "withdrawn"  # the bank withdraws after approving, during the account lock
    WAITING = "waiting in review"  # left in bank_review for ops to find
    MISDIRECTED = "paid to the wrong account"  # the treasury pays the supplier's old account: stuck at once


# One cycle holds every scenario once, so any 10 consecutive financings show the whole mix; the
# order is then shuffled by the seed.
CYCLE: tuple[Scenario, ...] = (
    Scenario.SETTLED,
    Scenario.WAITING,
    Scenario.PARTIAL,
    Scenario.REJECTED,
    Scenario.PAID_IN_TWO,
    Scenario.LOCK_REFUSED,
    Scenario.EARLY_REPAID,
    Scenario.WITHDRAWN,
    Scenario.DISBURSED,
    Scenario.MISDIRECTED,
)
OFFLINE_LOCK = frozenset({Scenario.PARTIAL, Scenario.EARLY_REPAID})
APPROVED = frozenset(set(Scenario) - {Scenario.REJECTED, Scenario.WAITING})
EXPECTED_STAGE: dict[Scenario, str] = {
    Scenario.SETTLED: "settled",
    Scenario.PAID_IN_TWO: "settled",
    Scenario.PARTIAL: "repaying",
    Scenario.EARLY_REPAID: "settled",
    Scenario.DISBURSED: "repaying",
    Scenario.REJECTED: "rejected",
    Scenario.LOCK_REFUSED: "failed",
    Scenario.WITHDRAWN: "withdrawn",
    Scenario.WAITING: "bank_review",
    Scenario.MISDIRECTED: "repaying",
}


# ---- the hand-off file -----------------------------------------------------------------------


@dataclass(frozen=True)
class Handoff:
    """What `zcd run` wrote to `<data dir>/dev.json`: where everything is and the keys."""

    api: str
    procurement: str
    bank: str
    treasury: str
    bank_keys: dict[str, str]
    ops_key: str
    treasury_secret: str


def load_handoff(data_dir: Path) -> Handoff:
    path = data_dir / "dev.json"
    if not path.exists():
        raise DemoError(f"{path} not found: start the platform with `make run` first")
    try:
        document = json.loads(path.read_text())
        sims, creds = document["simulators"], document["credentials"]
        return Handoff(
            api=document["api"],
            procurement=sims["procurement"],
            bank=sims["bank"],
            treasury=sims["treasury"],
            bank_keys=dict(creds["banks"]),
            ops_key=creds["ops"],
            treasury_secret=creds["treasury_secret"],
        )
    except (ValueError, KeyError, TypeError) as error:
        raise DemoError(f"{path} is not the hand-off file `zcd run` writes ({error!r})") from None


# ---- the plan: who borrows what from whom --------------------------------------------------


@dataclass(frozen=True)
class Plan:
    """One financing as the demo intends it, fixed before anything is sent."""

    scenario: Scenario
    contract_no: str
    bank_code: str
    purchaser: tuple[str, str, str]  # code, name, district
    supplier_code: str
    supplier_name: str
    project: str
    contract_amount: Decimal
    requested: Decimal
    approved: Decimal
    annual_rate: Decimal
    term_days: int
    supplier_account: str  # the contract's payee account before the lock
    collection_account: str  # the account agreed with the bank, locked as payee


def plan_financings(count: int, seed: int, bank_codes: Iterable[str], run_tag: str) -> list[Plan]:
    """`count` financings, the same for the same seed; `run_tag` keeps contract numbers and
    accounts new on every run, so a second run against the same platform starts afresh."""
    rng = random.Random(seed)
    banks = sorted(bank_codes)
    if not banks:
        raise DemoError("dev.json lists no bank keys")
    scenarios = [CYCLE[i % len(CYCLE)] for i in range(count)]
    rng.shuffle(scenarios)
    # A small pool of suppliers, so some win (and finance) more than one contract.
    suppliers = [make_credit_code("91320200", f"DM{rng.randrange(10**6):06d}") for _ in range(max(3, count // 3))]
    plans = []
    for n, scenario in enumerate(scenarios, start=1):
        supplier = rng.randrange(len(suppliers))
        contract_amount = Decimal(rng.randrange(200, 3000) * 1000)
        requested = (contract_amount * MAX_RATIO * Decimal(rng.choice((60, 75, 90, 100))) / 100).quantize(
            FEN, ROUND_DOWN
        )
        # Banks often grant less than asked, in round hundreds.
        approved = requested if rng.random() < 0.6 else (requested * Decimal("0.8")).quantize(Decimal(100), ROUND_DOWN)
        plans.append(
            Plan(
                scenario=scenario,
                contract_no=f"DEMO-{run_tag}-{n:04d}",
                bank_code=rng.choice(banks),
                purchaser=rng.choice(PURCHASERS),
                supplier_code=suppliers[supplier],
                supplier_name=f"无锡{'一二三四五六七八九十'[supplier % 10]}{rng.choice(SUPPLIER_NAMES)}有限公司",
                project=rng.choice(PROJECTS),
                contract_amount=contract_amount.quantize(FEN),
                requested=requested,
                approved=approved.quantize(FEN),
                annual_rate=Decimal(rng.randrange(300, 601, 5)) / 10000,
                term_days=rng.choice((90, 180, 270, 365)),
                supplier_account=f"6217{run_tag[-6:]}{n:06d}",
                collection_account=f"6222{run_tag[-6:]}{n:06d}",
            )
        )
    return plans


def one_day_interest(principal: Decimal, annual_rate: Decimal) -> Decimal:
    """What a loan repaid on its disbursement day owes (API.md: the first day counts)."""
    return (principal * annual_rate / DAYS_IN_YEAR).quantize(FEN, ROUND_HALF_UP)


# ---- driving one financing -------------------------------------------------------------------


@dataclass
class Outcome:
    plan: Plan
    application_id: str | None = None
    error: str | None = None


@dataclass
class Driver:
    """The outside world of one run: a bank per key, ops, the purchaser and the treasury."""

    handoff: Handoff
    http: httpx.AsyncClient
    stage_timeout: float = 60.0
    poll_interval: float = 0.2

    def bank(self, code: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.handoff.bank_keys[code]}"}

    @property
    def ops(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.handoff.ops_key}"}

    async def call(
        self, method: str, url: str, expect: int, body: Any = None, headers: dict[str, str] | None = None
    ) -> Any:
        """One request whose status must be `expect`; anything else is a finding to report."""
        try:
            response = await self.http.request(method, url, json=body, headers=headers)
        except httpx.TransportError as error:
            raise Unanswered(f"{method} {url}: no answer ({error!r})") from error
        if response.status_code != expect:
            raise DemoError(f"{method} {url} answered {response.status_code}, expected {expect}: {response.text[:400]}")
        return response.json()

    async def application(self, application_id: str, headers: dict[str, str]) -> dict[str, Any]:
        view: dict[str, Any] = await self.call(
            "GET", f"{self.handoff.api}/v1/applications/{application_id}", 200, headers=headers
        )
        return view

    async def wait_until(
        self, application_id: str, headers: dict[str, str], done: Callable[[dict[str, Any]], bool], what: str
    ) -> dict[str, Any]:
        """Poll GET application until `done(view)`, for at most `stage_timeout` seconds."""
        deadline = time.monotonic() + self.stage_timeout
        while True:
            view = await self.application(application_id, headers)
            if done(view):
                return view
            if time.monotonic() > deadline:
                raise DemoError(
                    f"application {application_id} (contract {view['contract_no']}) did not reach {what} "
                    f"within {self.stage_timeout:.0f} s; last stage {view['stage']}"
                )
            await asyncio.sleep(self.poll_interval)  # a bounded poll of a public read, not a race

    async def wait_for_stage(self, application_id: str, headers: dict[str, str], stage: str) -> dict[str, Any]:
        return await self.wait_until(application_id, headers, lambda view: view["stage"] == stage, f"stage {stage}")

    async def drive(self, plan: Plan) -> Outcome:
        outcome = Outcome(plan)
        try:
            await self._drive(plan, outcome)
        except (DemoError, httpx.HTTPError) as error:
            outcome.error = str(error) or repr(error)
        return outcome

    async def _drive(self, plan: Plan, outcome: Outcome) -> None:
        bank = self.bank(plan.bank_code)
        await self.create_contract(plan)
        app_id = await self.submit(plan, bank)
        outcome.application_id = app_id
        await self.wait_for_stage(app_id, bank, "bank_review")
        scenario = plan.scenario
        if scenario is Scenario.WAITING:
            return
        if scenario is Scenario.REJECTED:
            await self.decide(app_id, bank, {"decision": "reject", "reason": "经营流水不足 (demo)"})
            await self.wait_for_stage(app_id, bank, "rejected")
            return
        decision = {
            "decision": "approve",
            "approved_amount": money_str(plan.approved),
            "annual_rate": str(plan.annual_rate),
            "term_days": plan.term_days,
        }
        await self.decide(app_id, bank, decision)
        await self.wait_for_stage(app_id, bank, "account_lock")
        if scenario is Scenario.WITHDRAWN:
            await self.call("POST", f"{self.handoff.api}/v1/applications/{app_id}/withdraw", 200, {}, bank)
            await self.wait_for_stage(app_id, bank, "withdrawn")
            return
        if scenario is Scenario.LOCK_REFUSED:
            await self.purchaser_answers(plan, "refused")
            await self.wait_for_stage(app_id, bank, "failed")
            return
        if scenario in OFFLINE_LOCK:
            note = "采购人线下书面确认 (demo)"
            body = {"decision": "confirmed", "note": note}
            await self.call(
                "POST", f"{self.handoff.api}/v1/ops/applications/{app_id}/account-lock", 200, body, self.ops
            )
        else:
            await self.purchaser_answers(plan, "confirmed")
        repaying = await self.wait_for_stage(app_id, bank, "repaying")
        await self.repay(plan, app_id, bank, repaying)

    async def repay(self, plan: Plan, app_id: str, bank: dict[str, str], repaying: dict[str, Any]) -> None:
        """What happens once the loan is out: the treasury pays, or the supplier repays early."""
        scenario = plan.scenario
        if scenario is Scenario.DISBURSED:
            return
        if scenario is Scenario.MISDIRECTED:
            await self.treasury_pays_elsewhere(plan, app_id, bank)
            return
        if scenario is Scenario.EARLY_REPAID:
            # The supplier repays principal and the one day's interest at its bank, on the
            # disbursement day; the bank reports it. Exactly enough: the loan settles with no surplus.
            amount = plan.approved + one_day_interest(plan.approved, plan.annual_rate)
            body = {
                "repayment_id": f"{plan.contract_no}-R1",
                "amount": money_str(amount),
                "paid_on": repaying["disbursed_on"],
            }
            answer = await self.call("POST", f"{self.handoff.api}/v1/applications/{app_id}/repayments", 200, body, bank)
            if answer.get("status") != "accepted":
                raise DemoError(f"application {app_id}: the bank's repayment was answered {answer}")
            await self.wait_for_stage(app_id, bank, "settled")
            return
        if scenario in (Scenario.PARTIAL, Scenario.PAID_IN_TWO):
            first = (plan.approved * Decimal("0.4")).quantize(FEN, ROUND_DOWN)
            await self.treasury_pays(plan, first, 1)
            await self.wait_until(
                app_id, bank, lambda view: view["principal_repaid"] != "0.00", "a first repayment booked"
            )
            if scenario is Scenario.PARTIAL:
                return
            await self.treasury_pays(plan, plan.contract_amount - first, 2)  # the rest of the contract
        else:
            await self.treasury_pays(plan, plan.contract_amount, 1)  # the whole contract at once
        await self.wait_for_stage(app_id, bank, "settled")

    async def create_contract(self, plan: Plan) -> None:
        code, name, district = plan.purchaser
        today = date.today()
        contract = {
            "contract_no": plan.contract_no,
            "project_name": plan.project,
            "purchaser": {"code": code, "name": name, "district": district},
            "supplier": {"credit_code": plan.supplier_code, "name": plan.supplier_name},
            "amount": money_str(plan.contract_amount),
            "paid_amount": "0.00",
            "signed_on": (today - timedelta(days=30)).isoformat(),
            "expected_payment_date": (today + timedelta(days=150)).isoformat(),
            "status": "effective",
            "payee_account_no": plan.supplier_account,
        }
        await self.call("POST", f"{self.handoff.procurement}/sim/contracts", 201, contract)

    async def submit(self, plan: Plan, bank: dict[str, str]) -> str:
        body = {
            "contract_no": plan.contract_no,
            "supplier_credit_code": plan.supplier_code,
            "product_code": "STD",
            "requested_amount": money_str(plan.requested),
            "collection_account": {"account_no": plan.collection_account, "account_name": plan.supplier_name},
        }
        # The answer waits for verification and the hand-over to the bank, which retries against
        # slow or failing systems; a bank that hears nothing asks again with the same key and
        # gets the same application (API.md "Idempotency-Key"), never a second one.
        headers = {**bank, "Idempotency-Key": f"demo-{plan.contract_no}"}
        for attempt in range(1, SUBMIT_ATTEMPTS + 1):
            try:
                created = await self.call("POST", f"{self.handoff.api}/v1/applications", 201, body, headers)
                return str(created["application_id"])
            except Unanswered:
                if attempt == SUBMIT_ATTEMPTS:
                    raise
        raise AssertionError("unreachable")

    async def decide(self, app_id: str, bank: dict[str, str], decision: dict[str, Any]) -> None:
        await self.call("POST", f"{self.handoff.api}/v1/applications/{app_id}/decision", 200, decision, bank)

    async def purchaser_answers(self, plan: Plan, decision: str) -> None:
        url = f"{self.handoff.procurement}/sim/contracts/{plan.contract_no}/account-change"
        await self.call("POST", url, 200, {"decision": decision})

    async def treasury_pays(self, plan: Plan, amount: Decimal, n: int) -> None:
        """The treasury pays contract money. The payment has its own id, so when the treasury
        cannot reach the procurement system for the payee account (502) or hears nothing, it
        tries again without paying twice; a notification that did arrive comes back `duplicate`."""
        body = {"contract_no": plan.contract_no, "amount": money_str(amount), "payment_id": f"{plan.contract_no}-P{n}"}
        url = f"{self.handoff.treasury}/sim/pay"
        statuses = {"accepted"}
        for attempt in range(1, PAY_ATTEMPTS + 1):
            try:
                response = await self.http.post(url, json=body)
            except httpx.TransportError as error:
                response, problem = None, f"no answer ({error!r})"
            if response is not None and response.status_code == 200:
                answer = response.json()
                if answer.get("platform_status") not in statuses:
                    raise DemoError(f"contract {plan.contract_no}: the treasury's payment was answered {answer}")
                return
            if response is not None:
                problem = f"answered {response.status_code}: {response.text[:300]}"
                if response.status_code < 500:
                    break
            statuses.add("duplicate")  # an earlier attempt may have been notified already
            await asyncio.sleep(0.5 * attempt)  # the treasury's own back-off before trying again
        raise DemoError(f"POST {url} for contract {plan.contract_no} {problem}")

    async def treasury_pays_elsewhere(self, plan: Plan, app_id: str, bank: dict[str, str]) -> None:
        """The treasury's own signed notice of a payment into the supplier's old account (the
        payee before the lock): kept for ops, not credited, and the loan needs a person."""
        notice = {
            "payment_id": f"{plan.contract_no}-M1",
            "contract_no": plan.contract_no,
            "payee_account_no": plan.supplier_account,
            "amount": money_str(plan.contract_amount),
            "paid_on": datetime.now(SHANGHAI).date().isoformat(),
        }
        body = json.dumps(notice).encode()
        signed = {
            "Content-Type": "application/json",
            SIGNATURE_HEADER: signature_header(self.handoff.treasury_secret, int(time.time()), body),
        }
        response = await self.http.post(f"{self.handoff.api}/v1/treasury/payments", content=body, headers=signed)
        if response.status_code != 202 or response.json().get("status") != "misdirected":
            raise DemoError(f"contract {plan.contract_no}: a misdirected payment was answered {response.text[:300]}")
        await self.wait_until(app_id, bank, lambda view: bool(view["needs_attention"]), "flagged for attention")

    async def stuck(self) -> int:
        """How many processes ops find in GET /v1/ops/stuck right now."""
        page: dict[str, Any] = await self.call("GET", f"{self.handoff.api}/v1/ops/stuck", 200, headers=self.ops)
        return len(page["items"])

    # -- what the three records say afterwards

    async def stats(self) -> dict[str, Any]:
        stats: dict[str, Any] = await self.call("GET", f"{self.handoff.api}/v1/stats", 200, headers=self.ops)
        return stats

    async def record(self, outcome: Outcome) -> LoanRecord:
        """This run's loan as the demo, the platform and the bank simulator each record it."""
        assert outcome.application_id is not None
        plan = outcome.plan
        view = await self.application(outcome.application_id, self.ops)
        disbursements = await self._disbursements(plan.contract_no)
        return LoanRecord(
            application_id=outcome.application_id,
            contract_no=plan.contract_no,
            bank_code=plan.bank_code,
            district=plan.purchaser[2],
            stage=view["stage"],
            expected_stage=None if outcome.error else EXPECTED_STAGE[plan.scenario],
            demo_approved=_approved_by_demo(outcome, view),
            approved=_money(view["approved_amount"]),
            disbursed_on=view["disbursed_on"],
            outstanding=_money(view["outstanding_principal"]) or ZERO,
            principal_repaid=_money(view["principal_repaid"]) or ZERO,
            interest_paid=_money(view["interest_paid"]) or ZERO,
            surplus_released=_money(view["surplus_released"]) or ZERO,
            bank_disbursements=[Decimal(item["amount"]) for item in disbursements],
        )

    async def _disbursements(self, contract_no: str) -> list[dict[str, Any]]:
        response = await self.http.get(f"{self.handoff.bank}/sim/disbursements", params={"contract_no": contract_no})
        if response.status_code != 200:
            raise DemoError(f"bank simulator's disbursements for {contract_no}: {response.status_code} {response.text}")
        items: list[dict[str, Any]] = response.json()["items"]
        return items


def _approved_by_demo(outcome: Outcome, view: dict[str, Any]) -> Decimal | None:
    """What the bank (the demo) approved; for a financing whose driving failed part-way, the
    platform's word is taken, since the demo cannot know whether its decision arrived."""
    if outcome.error:
        return _money(view["approved_amount"])
    return outcome.plan.approved if outcome.plan.scenario in APPROVED else None


def _money(value: str | None) -> Decimal | None:
    return None if value is None else Decimal(value)


# ---- reconciliation: pure, over plain data ---------------------------------------------------


@dataclass(frozen=True)
class LoanRecord:
    """One application of this run, with what each record says about it."""

    application_id: str
    contract_no: str
    bank_code: str
    district: str
    stage: str  # the platform's
    expected_stage: str | None  # where the demo drove it; None: not judged (driving failed)
    demo_approved: Decimal | None  # what the bank (the demo) approved
    approved: Decimal | None  # the platform's approved_amount
    disbursed_on: str | None  # the platform's
    outstanding: Decimal
    principal_repaid: Decimal
    interest_paid: Decimal = ZERO
    surplus_released: Decimal = ZERO
    bank_disbursements: list[Decimal] = field(default_factory=list)  # the bank simulator's

    @property
    def disbursed(self) -> Decimal:
        """The platform's disbursed amount: the approved amount once a disbursement date is set."""
        return (self.approved or ZERO) if self.disbursed_on is not None else ZERO

    @property
    def on_book(self) -> bool:
        """Counted in the bureau's `outstanding` (a written-off loan has left the book)."""
        return self.disbursed_on is not None and self.stage != "written_off"


def loan_disagreements(record: LoanRecord) -> list[str]:
    """Where the demo, the platform and the bank simulator disagree about one loan."""
    name = f"{record.application_id} ({record.contract_no})"
    found = []
    if record.expected_stage is not None and record.stage != record.expected_stage:
        found.append(f"{name}: stage {record.stage}, expected {record.expected_stage}")
    if record.approved != record.demo_approved:
        found.append(
            f"{name}: platform approved {_show(record.approved)}, the bank approved {_show(record.demo_approved)}"
        )
    paid_out = record.bank_disbursements
    if record.disbursed_on is None:
        if paid_out:
            found.append(f"{name}: not disbursed on the platform, but the bank paid out {_amounts(paid_out)}")
    else:
        if len(paid_out) != 1:
            found.append(
                f"{name}: the bank executed {len(paid_out)} disbursements {_amounts(paid_out)}, expected exactly 1"
            )
        elif paid_out[0] != record.disbursed:
            found.append(f"{name}: the bank paid out {paid_out[0]:.2f}, the platform disbursed {record.disbursed:.2f}")
        # The ledger's balances: what was lent is either still owed or repaid.
        if record.outstanding + record.principal_repaid != record.disbursed:
            found.append(
                f"{name}: outstanding {record.outstanding:.2f} + repaid {record.principal_repaid:.2f} "
                f"≠ disbursed {record.disbursed:.2f}"
            )
    if record.stage in DISBURSED_STAGES and record.disbursed_on is None:
        found.append(f"{name}: stage {record.stage} without a disbursement date")
    return found


def expected_deltas(records: Iterable[LoanRecord]) -> dict[str, Decimal]:
    """How much this run should have moved the bureau's three figures."""
    records = list(records)
    return {
        "credit_granted": sum((r.approved or ZERO for r in records), ZERO),
        # what the bank actually paid out, an independent record of financing disbursed
        "financing_disbursed": sum((sum(r.bank_disbursements, ZERO) for r in records), ZERO),
        "outstanding": sum((r.outstanding for r in records if r.on_book), ZERO),
    }


def figures_delta(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Decimal]:
    return {name: Decimal(after.get(name, "0.00")) - Decimal(before.get(name, "0.00")) for name in FIGURES}


def _rows(stats: dict[str, Any], breakdown: str, key: str) -> dict[str, dict[str, Any]]:
    return {row[key]: row for row in stats.get(breakdown, [])}


def stats_disagreements(before: dict[str, Any], after: dict[str, Any], records: Iterable[LoanRecord]) -> list[str]:
    """Compare the change of GET /v1/stats with this run's loans: the totals, each bank's
    and each district's figures, and the count per stage."""
    records = list(records)
    found = _delta_disagreements("platform-wide", figures_delta(before, after), expected_deltas(records))
    for breakdown, key, of in (("by_bank", "bank_code", "bank_code"), ("by_district", "district", "district")):
        rows_before, rows_after = _rows(before, breakdown, key), _rows(after, breakdown, key)
        for name in sorted(set(rows_after) | {getattr(r, of) for r in records}):
            mine = [r for r in records if getattr(r, of) == name]
            delta = figures_delta(rows_before.get(name, {}), rows_after.get(name, {}))
            found += _delta_disagreements(f"{breakdown} {name}", delta, expected_deltas(mine))
    counted = Counter(r.stage for r in records)
    counts_before, counts_after = before.get("applications", {}), after.get("applications", {})
    for stage in sorted(set(counts_after) | set(counted)):
        delta = counts_after.get(stage, 0) - counts_before.get(stage, 0)
        if delta != counted.get(stage, 0):
            found.append(f"stats applications[{stage}] moved by {delta}, this run left {counted.get(stage, 0)} there")
    return found


def _delta_disagreements(where: str, delta: dict[str, Decimal], expected: dict[str, Decimal]) -> list[str]:
    return [
        f"stats {where} {name} moved by {delta[name]:.2f}, this run accounts for {expected[name]:.2f}"
        for name in FIGURES
        if delta[name] != expected[name]
    ]


def reconcile(records: Iterable[LoanRecord], before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    """Every disagreement between the three records; an empty list means they agree."""
    records = list(records)
    found = [problem for record in records for problem in loan_disagreements(record)]
    return found + stats_disagreements(before, after, records)


def _show(amount: Decimal | None) -> str:
    return "nothing" if amount is None else f"{amount:.2f}"


def _amounts(amounts: list[Decimal]) -> str:
    return "[" + ", ".join(f"{a:.2f}" for a in amounts) + "]"


# ---- the run ----------------------------------------------------------------------------------


@dataclass
class Report:
    records: list[LoanRecord]
    failures: list[Outcome]
    disagreements: list[str]
    seconds: float
    stats_caught_up: bool = False  # the read model needed a moment after the last GET application
    stuck: int | None = None  # what GET /v1/ops/stuck lists after the run (whole platform)
    misdirected: int = 0  # this run's payments into a wrong account, each a stuck process


async def run_demo(
    handoff: Handoff,
    *,
    count: int,
    seed: int,
    concurrency: int = 8,
    stage_timeout: float = 60.0,
    console: Console | None = None,
) -> Report:
    console = console or Console()
    run_tag = time.strftime("%y%m%d%H%M%S") + uuid.uuid4().hex[:4].upper()
    plans = plan_financings(count, seed, handoff.bank_keys, run_tag)
    started = time.monotonic()
    limits = httpx.Limits(max_connections=concurrency * 2)
    async with httpx.AsyncClient(timeout=30.0, limits=limits) as http:
        driver = Driver(handoff, http, stage_timeout=stage_timeout)
        before = await driver.stats()
        outcomes = await _drive_all(driver, plans, concurrency, console)
        # Applications whose driving failed exist on the platform all the same: reconcile them
        # too (their stage is not judged), so the stats deltas still add up.
        records = await asyncio.gather(*(driver.record(o) for o in outcomes if o.application_id))
        after = await driver.stats()
        found = reconcile(records, before, after) if records else []
        caught_up = bool(found) and _only_stats(found)
        if caught_up:
            # The bureau's figures come from the read model, which the workflow writes as it
            # goes; give it a moment to catch up with what GET application already showed.
            after = await _settled_stats(driver, records, before)
            found = reconcile(records, before, after)
        stuck = await driver.stuck()
    failures = [o for o in outcomes if o.error]
    misdirected = sum(1 for p in plans if p.scenario is Scenario.MISDIRECTED)
    seconds = time.monotonic() - started
    return Report(list(records), failures, found, seconds, caught_up and not found, stuck, misdirected)


def _only_stats(found: list[str]) -> bool:
    return all(line.startswith("stats ") for line in found)


async def _settled_stats(driver: Driver, records: list[LoanRecord], before: dict[str, Any]) -> dict[str, Any]:
    deadline = time.monotonic() + 5.0
    while True:
        after = await driver.stats()
        if not stats_disagreements(before, after, records) or time.monotonic() > deadline:
            return after
        await asyncio.sleep(0.25)


async def _drive_all(driver: Driver, plans: list[Plan], concurrency: int, console: Console) -> list[Outcome]:
    gate = asyncio.Semaphore(concurrency)
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console, transient=False) as progress:
        task = progress.add_task("financings", total=len(plans))

        async def one(plan: Plan) -> Outcome:
            async with gate:
                outcome = await driver.drive(plan)
            progress.advance(task)
            return outcome

        return list(await asyncio.gather(*(one(plan) for plan in plans)))


# ---- the report ------------------------------------------------------------------------------


def stage_table(records: list[LoanRecord]) -> Table:
    table = Table(title="this run's applications by stage")
    table.add_column("stage")
    table.add_column("applications", justify="right")
    counts = Counter(r.stage for r in records)
    for stage in STAGE_ORDER:
        if counts[stage]:
            table.add_row(stage, str(counts[stage]))
    table.add_row("[bold]total[/]", f"[bold]{len(records)}[/]")
    return table


def money_table(records: list[LoanRecord]) -> Table:
    table = Table(title="money (CNY)")
    table.add_column("figure")
    table.add_column("amount", justify="right")
    rows = {
        "approved (credit granted)": sum((r.approved or ZERO for r in records), ZERO),
        "disbursed": sum((r.disbursed for r in records), ZERO),
        "principal repaid": sum((r.principal_repaid for r in records), ZERO),
        "interest paid": sum((r.interest_paid for r in records), ZERO),
        "surplus released to suppliers": sum((r.surplus_released for r in records), ZERO),
        "outstanding": sum((r.outstanding for r in records if r.on_book), ZERO),
    }
    for name, amount in rows.items():
        table.add_row(name, f"{amount:,.2f}")
    return table


def print_report(report: Report, console: Console) -> None:
    records = report.records
    console.print(stage_table(records))
    console.print(money_table(records))
    banks = len({r.bank_code for r in records})
    districts = len({r.district for r in records})
    console.print(f"{len(records)} applications, {banks} banks, {districts} districts, in {report.seconds:.1f} s")
    waiting = sum(1 for r in records if r.stage == "bank_review")
    if waiting:
        console.print(
            f"{waiting} left waiting in bank_review: ops find them in GET /v1/ops/stuck once past the review SLA"
        )
    misdirected = report.misdirected
    if report.stuck is not None:
        console.print(
            f"GET /v1/ops/stuck lists {report.stuck} processes needing a person"
            + (f" (this run's {misdirected} payments to a wrong account among them)" if misdirected else "")
        )
    if report.stats_caught_up:
        console.print("(/v1/stats lagged behind the applications for a moment after the run, then caught up)")
    for outcome in report.failures:
        console.print(f"[bold red]failed:[/] {outcome.plan.scenario} {outcome.plan.contract_no}: {outcome.error}")
    if report.disagreements:
        console.print(f"[bold red]reconciliation: {len(report.disagreements)} disagreements[/]")
        for line in report.disagreements:
            console.print(f"  - {line}")
    elif records:
        console.print(
            "[bold green]reconciliation: agrees[/] — platform per application, bank disbursements "
            "and the change of /v1/stats (totals, per bank, per district, per stage)"
        )


def run(data_dir: Path, count: int, seed: int, concurrency: int, stage_timeout: float, console: Console) -> bool:
    """The `zcd demo` command; True when every financing went as planned and all agrees."""
    handoff = load_handoff(data_dir)
    report = asyncio.run(
        run_demo(handoff, count=count, seed=seed, concurrency=concurrency, stage_timeout=stage_timeout, console=console)
    )
    print_report(report, console)
    return not report.failures and not report.disagreements and bool(report.records)
