"""One chaos run, start to finish: the platform up, a calm batch, the chaos batch with the
monkey loose, a settle-down polled with a deadline, the checks, the report — and every child
stopped on the way out, whatever happened (failure, Ctrl-C, the run's own time limit)."""

from __future__ import annotations

import asyncio
import random
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx

from tests.chaos.checks import FINAL_STAGES, Findings, check
from tests.chaos.cluster import Cluster
from tests.chaos.driver import Delays, Driver, Loan, drive_all
from tests.chaos.evidence import gather, stats
from tests.chaos.forms import ChaosForm
from tests.chaos.monkey import Injected, Monkey
from tests.chaos.outside_world import World
from tests.chaos.processes import Crash
from tests.chaos.report import missing_faults, render
from tests.chaos.scenarios import LoanPlan, plan_loans


@dataclass
class Outcome:
    form: ChaosForm
    seed: int
    findings: Findings
    injected: Injected
    crashes: list[Crash]
    delays: Delays
    summary: str
    root: Path

    @property
    def passed(self) -> bool:
        return not self.findings.failed and not missing_faults(self.form, self.injected)


async def settle(world: World, loans: list[Loan], within: float) -> None:
    """Poll every loan until it is in a final stage, or the deadline passes (no fixed sleep)."""
    deadline = time.monotonic() + within
    waiting = [loan for loan in loans if loan.application_id]
    while waiting and time.monotonic() < deadline:
        still = []
        for loan in waiting:
            assert loan.application_id is not None
            answer = await world.http.get(
                f"{world.api}/v1/applications/{loan.application_id}", headers=world.ops_headers
            )
            if answer.status_code != 200 or answer.json()["stage"] not in FINAL_STAGES:
                still.append(loan)
        waiting = still
        if waiting:
            await asyncio.sleep(0.5)  # polling the public reads with a deadline


async def run_chaos(form: ChaosForm, seed: int, *, keep: bool = False, out: Callable[[str], None] = print) -> Outcome:
    root = Path(tempfile.mkdtemp(prefix=f"zcd-chaos-{form.name}-"))
    out(f"chaos {form.name}: seed {seed}, {form.calm_loans} calm + {form.loans} chaos loans, parts under {root}")
    cluster = Cluster.new(root)
    began = time.monotonic()
    try:
        async with asyncio.timeout(form.run_seconds):
            return await _run(cluster, form, seed, began, out)
    finally:
        try:
            await cluster.supervisor.stop_all()
        finally:
            cluster.supervisor.kill_everything_now()  # whatever a cancelled stop left running
        if not keep:
            shutil.rmtree(root, ignore_errors=True)


async def _run(cluster: Cluster, form: ChaosForm, seed: int, began: float, out: Callable[[str], None]) -> Outcome:
    rng = random.Random(seed)
    await cluster.start()
    where = f"API {cluster.api_url}, Temporal {cluster.temporal_address}"
    out(f"  platform up in {time.monotonic() - began:.0f} s ({where})")
    plans = plan_loans(form.calm_loans, form.loans, seed, f"{seed % 10**4:04d}{int(time.time()) % 10**4:04d}")
    limits = httpx.Limits(max_connections=form.concurrency * 4)
    async with httpx.AsyncClient(timeout=30.0, limits=limits) as http:
        world = World(cluster.handoff(), http, random.Random(rng.random()), form.step_seconds)
        driver = Driver(world)
        before = await stats(world)
        calm = [p for p in plans if p.phase == "calm"]
        chaotic = [p for p in plans if p.phase == "chaos"]
        loans = await drive_all(driver, calm, form.concurrency)
        out(f"  calm batch of {len(calm)} driven in {time.monotonic() - began:.0f} s")
        finished = [0]

        def progress() -> float:
            # half started, half finished: restarts land while loans are in every stage
            return (driver.started - len(calm) + finished[0]) / (2 * max(1, len(chaotic)))

        monkey = Monkey(cluster, form, random.Random(rng.random()), progress)
        world.on_payout, world.on_notice = monkey.on_payout, monkey.on_notice
        monkey.start()

        gate = asyncio.Semaphore(form.concurrency)

        async def one(plan: LoanPlan) -> Loan:
            async with gate:
                loan = await driver.drive(plan)
            finished[0] += 1
            return loan

        loans += list(await asyncio.gather(*(one(p) for p in chaotic)))
        out(f"  chaos batch of {len(chaotic)} driven in {time.monotonic() - began:.0f} s; stopping the faults")
        world.on_payout = world.on_notice = _ignore
        await monkey.finish()
        await settle(world, loans, form.settle_seconds)
        out(f"  settled (or gave up) at {time.monotonic() - began:.0f} s; gathering the records")
        evidence = await gather(world, plans, cluster.database_url, cluster.logs, before)
        findings = check(loans, world.sent, evidence, cluster.secrets())
    summary = render(
        form, seed, monkey.injected, cluster.supervisor.crashes, findings, driver.delays, time.monotonic() - began, out
    )
    return Outcome(
        form, seed, findings, monkey.injected, cluster.supervisor.crashes, driver.delays, summary, cluster.root
    )


async def _ignore(_: str) -> None:
    return None
