"""`zcd demo`: drive a realistic book of financings through a running platform, then check
that every money fact agrees.

The demo acts only as the outside world does (`outside_world`): the banks through the public
API, the purchaser and the treasury through the simulators' test hooks (API.md, "The local
stack's hand-off file"), operations through the ops endpoints — so what it shows is what the
platform's users would see. It never reads the database.

The plan (demo/plan.py) is fixed by the seed; each financing is driven by demo/driving.py; the
three records of this run's loans are then reconciled (demo/reconciliation.py: the platform's
figures per application, the bank simulator's disbursements, the change of `GET /v1/stats`
between a snapshot before and one after the run, so it works on a platform that already
holds loans) and reported (demo/report.py). Each bank's book as the bank simulator built it
from that bank's event feed alone (`GET /sim/book`, simulators/bank_feed.py) is then held
against `/v1/stats` per bank.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from decimal import Decimal
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from demo.driving import DemoError, Driver, Outcome, drive_all
from demo.plan import APPROVED, EXPECTED_STAGE, Plan, Scenario, plan_financings
from demo.reconciliation import LoanRecord, book_disagreements, money_or_none, reconcile, stats_disagreements
from demo.report import Report, print_report
from domain.money import ZERO
from outside_world import Handoff, HandoffMissing, OutsideWorld

STATS_CATCH_UP_SECONDS = 5.0
# a quiet feed is polled every ZCD_BANK_FEED_IDLE_SECONDS (5 s by default) at the longest
BOOK_CATCH_UP_SECONDS = 30.0


async def record_of(world: OutsideWorld, outcome: Outcome) -> LoanRecord:
    """This run's loan as the demo, the platform and the bank simulator each record it."""
    assert outcome.application_id is not None
    plan = outcome.plan
    view = await world.ops.application(outcome.application_id)
    disbursements = await world.bank_systems.disbursements(contract_no=plan.contract_no)
    return LoanRecord(
        application_id=outcome.application_id,
        contract_no=plan.contract_no,
        bank_code=plan.bank_code,
        district=plan.purchaser[2],
        stage=view["stage"],
        expected_stage=None if outcome.error else EXPECTED_STAGE[plan.scenario],
        demo_approved=_approved_by_demo(outcome, view),
        approved=money_or_none(view["approved_amount"]),
        disbursed_on=view["disbursed_on"],
        outstanding=money_or_none(view["outstanding_principal"]) or ZERO,
        principal_repaid=money_or_none(view["principal_repaid"]) or ZERO,
        interest_paid=money_or_none(view["interest_paid"]) or ZERO,
        surplus_released=money_or_none(view["surplus_released"]) or ZERO,
        bank_disbursements=[Decimal(item["amount"]) for item in disbursements],
    )


def _approved_by_demo(outcome: Outcome, view: dict[str, Any]) -> Decimal | None:
    """What the bank (the demo) approved; for a financing whose driving failed part-way, the
    platform's word is taken, since the demo cannot know whether its decision arrived."""
    if outcome.error:
        return money_or_none(view["approved_amount"])
    return outcome.plan.approved if outcome.plan.scenario in APPROVED else None


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
    async with OutsideWorld.connected(handoff, max_connections=concurrency * 2) as world:
        driver = Driver(world, stage_timeout=stage_timeout)
        before = await world.ops.stats()
        outcomes = await _drive_with_progress(driver, plans, concurrency, console)
        # Applications whose driving failed exist on the platform all the same: reconcile them
        # too (their stage is not judged), so the stats deltas still add up.
        records = list(await asyncio.gather(*(record_of(world, o) for o in outcomes if o.application_id)))
        after = await world.ops.stats()
        found = reconcile(records, before, after) if records else []
        caught_up = bool(found) and _only_stats(found)
        if caught_up:
            # The bureau's figures come from the read model, which the workflow writes as it
            # goes; give it a moment to catch up with what GET application already showed.
            after = await _settled_stats(world, records, before)
            found = reconcile(records, before, after)
        stuck = len(await world.ops.stuck())
        books, book_found, book_waited = await _books_against_stats(world)
    failures = [o for o in outcomes if o.error]
    misdirected = sum(1 for p in plans if p.scenario is Scenario.MISDIRECTED)
    seconds = time.monotonic() - started
    return Report(
        records,
        failures,
        found,
        seconds,
        caught_up and not found,
        stuck,
        misdirected,
        books=books,
        book_disagreements=book_found,
        book_seconds=book_waited,
    )


async def _books_against_stats(world: OutsideWorld) -> tuple[list[dict[str, Any]], list[str] | None, float]:
    """Each bank's book from its event feed (the bank simulator's), held against /v1/stats:
    (books, disagreements — None when no bank follows its feed here —, seconds waited). The
    books lag the platform by a poll or two, so they are read until they agree, for a while."""
    began = time.monotonic()
    while True:
        shown = await world.bank_systems.book()
        if not shown["following"]:
            return [], None, 0.0
        books: list[dict[str, Any]] = shown["banks"]
        found = book_disagreements(books, await world.ops.stats())
        waited = time.monotonic() - began
        if not found or waited > BOOK_CATCH_UP_SECONDS:
            return books, found, waited
        await asyncio.sleep(0.5)


def _only_stats(found: list[str]) -> bool:
    return all(line.startswith("stats ") for line in found)


async def _settled_stats(world: OutsideWorld, records: list[LoanRecord], before: dict[str, Any]) -> dict[str, Any]:
    deadline = time.monotonic() + STATS_CATCH_UP_SECONDS
    while True:
        after = await world.ops.stats()
        if not stats_disagreements(before, after, records) or time.monotonic() > deadline:
            return after
        await asyncio.sleep(0.25)


async def _drive_with_progress(driver: Driver, plans: list[Plan], concurrency: int, console: Console) -> list[Outcome]:
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console, transient=False) as progress:
        task = progress.add_task("financings", total=len(plans))
        return await drive_all(driver, plans, concurrency, lambda: progress.advance(task))


def run(data_dir: Path, count: int, seed: int, concurrency: int, stage_timeout: float, console: Console) -> bool:
    """The `zcd demo` command; True when every financing went as planned and all agrees."""
    try:
        handoff = Handoff.load(data_dir)
    except HandoffMissing as error:
        raise DemoError(str(error)) from None
    report = asyncio.run(
        run_demo(handoff, count=count, seed=seed, concurrency=concurrency, stage_timeout=stage_timeout, console=console)
    )
    print_report(report, console)
    return not report.failures and not report.disagreements and not report.book_disagreements and bool(report.records)
