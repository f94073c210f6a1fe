"""`make bench`: loans per second on the real stack, against a do-nothing workflow with the
Temporal steps of a recorded loan, on the same server in the same run (docs/performance.md).

    python -m tests.bench.throughput [--loans 60] [--concurrency 12]
    python -m tests.bench.throughput --open-loans 1000 [--within 900]

The stack is `zcd run` in a temporary data directory on free ports (tests/e2e/local_stack.py):
the Temporal dev server on its SQLite file, embedded PostgreSQL, the three simulators, the
worker and the API, payloads encrypted with the stack's generated key. Loans go through the
public API and the simulators' hooks only (tests/bench/loans.py). A few warm-up loans settle
first; the history of one of them is counted (tests/bench/plan.py) and the baseline workflow
(tests/bench/baseline.py, its own worker process) replays those commands with no-op bodies,
driven the same way: update-with-start, an update, two signals.

`--open-loans N` drives N loans to `repaying` and leaves them open, then reports the worker's
RSS; the run stops at `--within` seconds whatever the count reached.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

import httpx
import psutil
from temporalio.api.history.v1 import HistoryEvent
from temporalio.client import Client, WithStartWorkflowOperation, WorkflowExecutionStatus, WorkflowHandle
from temporalio.common import SearchAttributePair, TypedSearchAttributes, WorkflowIDConflictPolicy

from domain import workflow_api as names
from tests.bench import plan as steps
from tests.bench import profile
from tests.bench.baseline import WORKFLOW_TYPE, connect
from tests.bench.loans import PHASES, POLL_SECONDS, Loan, Platform
from tests.bench.stack import MB, Meter, part, postgres, rss_mb, temporal_server
from tests.e2e.local_stack import REPO, LocalStack
from workflows import search_attributes as sa

T = TypeVar("T")
WARM_UP = 3
# what the bank, the purchaser (through procurement) and the treasury send, in order (tests/bench/loans.py)
DRIVEN = [
    f"{steps.START}+{steps.UPDATE}:{names.UPDATE_SUBMISSION_OUTCOME}",
    f"{steps.UPDATE}:{names.UPDATE_DECIDE}",
    f"{steps.SIGNAL}:{names.SIGNAL_ACCOUNT_CHANGE}",
    f"{steps.SIGNAL}:{names.SIGNAL_TREASURY_PAYMENT}",
]
PROJECT = (
    "workflows/",
    "activities/",
    "api/",
    "store/",
    "domain/",
    "integrations/",
    "worker/",
    "simulators/",
    "runtime/",
    "local_stack/",
    "demo/",
)


# ---------------------------------------------------------------------- running many at once


@dataclass
class Outcome:
    seconds: float
    failures: list[str] = field(default_factory=list)


async def at_concurrency(items: Sequence[T], concurrency: int, one: Callable[[T], Awaitable[None]]) -> Outcome:
    gate = asyncio.Semaphore(concurrency)
    failures: list[str] = []

    async def guarded(item: T) -> None:
        async with gate:
            try:
                await one(item)
            except Exception as error:  # a failed loan is reported, the run goes on
                failures.append(f"{type(error).__name__}: {error}")

    started = time.perf_counter()
    await asyncio.gather(*(guarded(item) for item in items))
    return Outcome(time.perf_counter() - started, failures)


def combined(outcomes: list[Outcome]) -> Outcome:
    return Outcome(sum(o.seconds for o in outcomes), [f for o in outcomes for f in o.failures])


def p50_p95(values: list[float]) -> tuple[float, float]:
    if len(values) < 2:
        return (values[0], values[0]) if values else (0.0, 0.0)
    cuts = statistics.quantiles(values, n=100, method="inclusive")
    return cuts[49], cuts[94]


# ---------------------------------------------------------------------- histories


async def events_of(client: Client, workflow_id: str) -> list[HistoryEvent]:
    history = await client.get_workflow_handle(workflow_id).fetch_history()
    return list(history.events)


async def history_sizes(client: Client, workflow_ids: list[str]) -> tuple[float, float]:
    """Mean events and bytes per workflow."""
    counted = [await events_of(client, wid) for wid in workflow_ids]
    if not counted:
        return 0.0, 0.0
    return (
        statistics.fmean(len(events) for events in counted),
        statistics.fmean(steps.history_bytes(events) for events in counted),
    )


def plan_text(plan: steps.Plan) -> str:
    def op(text: str) -> str:
        what, _, arg = text.partition(":")
        return {
            steps.LOCAL_ACTIVITY: "LA",
            steps.ACTIVITY: "activity" + ("(heartbeats)" if arg else ""),
            steps.TIMER: "timer",
            steps.COMPLETE: "complete",
        }.get(what, f"{what.replace('complete_update', 'answer')}({arg})")

    lines = []
    for batch in plan.batches:
        cancel = [f"cancel timer×{batch.cancel_timers}"] if batch.cancel_timers else []
        lines.append(f"    {batch.trigger:32} → {' '.join(cancel + [op(o) for o in batch.ops])}")
    return "\n".join(lines)


# ---------------------------------------------------------------------- the baseline


@dataclass
class BaselineRun:
    client: Client
    queue: str
    plan: steps.Plan
    submit_seconds: list[float] = field(default_factory=list)
    settle_seconds: list[float] = field(default_factory=list)
    ids: list[str] = field(default_factory=list)
    reads: int = 0
    phases: dict[str, list[float]] = field(default_factory=dict)  # as a loan's (PHASES), by workflow

    def timed(self, phase: str, started: float) -> float:
        now = time.perf_counter()
        self.phases.setdefault(phase, []).append(now - started)
        return now

    async def one(self, _n: int) -> None:
        wid = f"bench-baseline-{uuid.uuid4().hex}"
        first, *rest = self.plan.batches
        update = first.trigger.partition(":")[2]
        start: WithStartWorkflowOperation[object, str] = WithStartWorkflowOperation(
            WORKFLOW_TYPE,
            self.plan,
            id=wid,
            task_queue=self.queue,
            id_conflict_policy=WorkflowIDConflictPolicy.FAIL,
            result_type=str,
            search_attributes=TypedSearchAttributes(
                [
                    SearchAttributePair(sa.STAGE, "verifying"),
                    SearchAttributePair(sa.BANK, "ICBC"),
                    SearchAttributePair(sa.CONTRACT, wid[-12:]),
                    SearchAttributePair(sa.STAGE_SINCE, datetime.now(UTC)),
                    SearchAttributePair(sa.NEEDS_ATTENTION, False),
                ]
            ),
        )
        started = time.perf_counter()
        await self.client.execute_update_with_start_workflow(update, start_workflow_operation=start, result_type=str)
        self.submit_seconds.append(time.perf_counter() - started)
        mark = self.timed(PHASES[0], started)
        handle: WorkflowHandle[object, str] = await start.workflow_handle()
        last_signal = started
        sent = iter(PHASES[1:])
        for index, batch in enumerate(rest, start=1):
            kind, _, name = batch.trigger.partition(":")
            if kind not in (steps.UPDATE, steps.SIGNAL):
                continue
            if self.plan.batches[index - 1].trigger in (steps.ACTIVITY_DONE, steps.TIMER_FIRED):
                await self.until(handle, index)  # as the bank waits for repaying before the treasury pays
                mark = self.timed(next(sent, "wait"), mark)
            if kind == steps.UPDATE:
                await handle.execute_update(name, result_type=str)
            else:
                last_signal = time.perf_counter()
                await handle.signal(name)
            mark = self.timed(next(sent, kind), mark)
        await self.until_closed(handle)
        self.timed(next(sent, "until closed"), mark)
        self.settle_seconds.append(time.perf_counter() - last_signal)
        self.ids.append(wid)

    async def until(self, handle: WorkflowHandle[object, str], position: int) -> None:
        """Until the workflow finished batch `position - 1`: as the bank reads the stage its
        loan shows, the driver reads the stage search attribute the baseline upserts there
        (describe is answered by the server; a query would reach into the running task)."""
        wanted = position - 1
        while True:
            self.reads += 1
            shown = (await handle.describe()).typed_search_attributes.get(sa.STAGE) or ""
            if shown.startswith("step-") and int(shown.removeprefix("step-")) >= wanted:
                return
            await asyncio.sleep(POLL_SECONDS)

    async def until_closed(self, handle: WorkflowHandle[object, str]) -> None:
        """Until the workflow completed, read as the bank reads its loan until it shows settled:
        every 0.1 s (not a long poll on the result, which the bank has no counterpart of)."""
        while True:
            self.reads += 1
            status = (await handle.describe()).status
            if status == WorkflowExecutionStatus.COMPLETED:
                return
            if status not in (None, WorkflowExecutionStatus.RUNNING):
                raise RuntimeError(f"baseline {handle.id} ended {status.name}")
            await asyncio.sleep(POLL_SECONDS)


def start_baseline_worker(address: str, queue: str, codec_keys: str) -> subprocess.Popen[str]:
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.bench.baseline", "--address", address, "--task-queue", queue],
        cwd=REPO,
        env={**os.environ, "ZCD_CODEC_KEYS": codec_keys},
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    line = process.stdout.readline()
    if "polling" not in line:
        process.kill()
        raise RuntimeError(f"the baseline worker did not start: {line!r}")
    return process


# ---------------------------------------------------------------------- the runs


def load() -> str:
    one, five, _ = os.getloadavg()
    return f"{one:.2f}/{five:.2f}"


async def bench(loans: int, concurrency: int, rounds: int = 2, profile_dir: Path | None = None) -> None:
    stack = LocalStack.in_temporary_directory()
    baseline_worker: subprocess.Popen[str] | None = None
    load_before = load()
    try:
        dev = await asyncio.to_thread(stack.start)
        worker, api, temporal = part(stack, "worker"), part(stack, "api"), temporal_server(stack)
        simulators, database, me = part(stack, "simulators"), postgres(stack), psutil.Process()
        codec_keys = dev["credentials"]["codec_keys"]
        client = await connect(dev["temporal"], codec_keys)
        limits = httpx.Limits(max_connections=4 * concurrency, max_keepalive_connections=4 * concurrency)
        async with httpx.AsyncClient(timeout=120, limits=limits) as http:
            platform = Platform(dev, http)

            # warm-up
            warm = [await platform.contract(n) for n in range(WARM_UP)]
            outcome = await at_concurrency(warm, WARM_UP, platform.settle)
            if outcome.failures:
                raise RuntimeError(f"warm-up loans failed: {outcome.failures}")

            # Rounds of the engine and of the baseline, alternating engine-baseline-baseline-engine…
            # so that the load of whatever else runs on the machine falls on both alike.
            engine_meter = Meter(
                {
                    "worker": worker,
                    "api": api,
                    "temporal": temporal,
                    "postgres": database,
                    "simulators": simulators,
                    "bench": me,
                }
            )
            measured: list[Loan] = []
            engine_outcomes: list[Outcome] = []
            base_outcomes: list[Outcome] = []

            async def engine_round(spied: bool) -> None:
                batch = list(await asyncio.gather(*(platform.contract(n) for n in range(loans))))
                spies = []
                if spied and profile_dir is not None:
                    spies = [
                        profile.start(p.pid, profile_dir / f"{name}.txt")
                        for name, p in (("worker", worker), ("api", api), ("simulators", simulators))
                    ]
                with engine_meter.measuring():
                    engine_outcomes.append(await at_concurrency(batch, concurrency, platform.settle))
                for spy in spies:
                    profile.stop(spy)
                measured.extend(batch)

            await engine_round(spied=True)

            # the steps the baseline replays: the plan most of the first round's loans share
            histories = {
                loan.application_id: await events_of(client, names.workflow_id(loan.application_id))
                for loan in measured
                if loan.settle_seconds > 0
            }
            plans = {application_id: steps.plan_of(events) for application_id, events in histories.items()}
            plan, _ = steps.typical_plan(list(plans.values()), DRIVEN)
            recorded_id = next(i for i, p in plans.items() if p is plan)
            shape = steps.shape_of(histories[recorded_id])

            queue = f"bench-baseline-{uuid.uuid4().hex[:6]}"
            baseline_worker = start_baseline_worker(dev["temporal"], queue, codec_keys)
            baseline_process = psutil.Process(baseline_worker.pid)
            warm_baseline = BaselineRun(client, queue, plan)
            outcome = await at_concurrency(range(WARM_UP), WARM_UP, warm_baseline.one)
            if outcome.failures:
                raise RuntimeError(f"warm-up baseline failed: {outcome.failures}")

            # the baseline, the same number at the same concurrency in each round
            baseline = BaselineRun(client, queue, plan)
            baseline_meter = Meter({"worker": baseline_process, "temporal": temporal, "bench": me})

            async def baseline_round() -> None:
                with baseline_meter.measuring():
                    base_outcomes.append(await at_concurrency(range(loans), concurrency, baseline.one))

            await baseline_round()
            for n in range(1, rounds):
                if n % 2:
                    await baseline_round()
                    await engine_round(spied=False)
                else:
                    await engine_round(spied=False)
                    await baseline_round()

            settled = [loan for loan in measured if loan.settle_seconds > 0]
            for loan in settled:
                if loan.application_id not in histories:
                    events = await events_of(client, names.workflow_id(loan.application_id))
                    histories[loan.application_id] = events
            sharing = sum(1 for events in histories.values() if steps.plan_of(events).commands() == plan.commands())
            engine, base = combined(engine_outcomes), combined(base_outcomes)
            loan_events = statistics.fmean(len(events) for events in histories.values()) if histories else 0.0
            loan_bytes = statistics.fmean(steps.history_bytes(e) for e in histories.values()) if histories else 0.0
            base_events, base_bytes = await history_sizes(client, baseline.ids)
            replayed = await events_of(client, baseline.ids[0]) if baseline.ids else []
            worker_rss = rss_mb(worker)
        report(
            loans=loans,
            concurrency=concurrency,
            shape=shape,
            plan=plan,
            replayed=replayed,
            recorded_id=recorded_id,
            sharing=(sharing, len(histories)),
            rounds=rounds,
            engine=engine,
            settled=settled,
            base=base,
            baseline=baseline,
            engine_meter=engine_meter,
            baseline_meter=baseline_meter,
            sizes=(loan_events, loan_bytes, base_events, base_bytes),
            worker_rss=worker_rss,
            loads=(load_before, load()),
            profile_dir=profile_dir,
        )
    finally:
        if baseline_worker is not None:
            baseline_worker.terminate()
            baseline_worker.wait(timeout=30)
        await asyncio.to_thread(stack.remove)


def report(
    *,
    loans: int,
    concurrency: int,
    shape: steps.Shape,
    plan: steps.Plan,
    replayed: list[HistoryEvent],
    recorded_id: str,
    sharing: tuple[int, int],
    rounds: int,
    engine: Outcome,
    settled: list[Loan],
    base: Outcome,
    baseline: BaselineRun,
    engine_meter: Meter,
    baseline_meter: Meter,
    sizes: tuple[float, float, float, float],
    worker_rss: float,
    loads: tuple[str, str],
    profile_dir: Path | None,
) -> None:
    loan_events, loan_bytes, base_events, base_bytes = sizes
    engine_rate = len(settled) / engine.seconds
    base_rate = len(baseline.ids) / base.seconds
    s50, s95 = p50_p95([loan.submit_seconds for loan in settled])
    p50, p95 = p50_p95([loan.settle_seconds for loan in settled])
    b_s50, b_s95 = p50_p95(baseline.submit_seconds)
    b_p50, b_p95 = p50_p95(baseline.settle_seconds)
    reads = statistics.fmean(loan.reads for loan in settled) if settled else 0.0
    n, nb = max(len(settled), 1), max(len(baseline.ids), 1)
    print(
        f"make bench: {rounds} round(s) of {loans} loans and {loans} baseline workflows at concurrency "
        f"{concurrency}, alternating, public API on `zcd run` (real stack)"
    )
    print(f"recorded loan {recorded_id}: {shape.describe()}")
    print(
        f"  its steps (the most common full happy path of the first round) are those of {sharing[0]} "
        f"of the {sharing[1]} settled loans"
    )
    print("  events by type: " + ", ".join(f"{name} {count}" for name, count in shape.by_type.most_common()))
    print("  baseline plan (one line per workflow task: what woke it → the commands it issued):")
    print(plan_text(plan))
    again = steps.plan_of(replayed)
    same = "the same commands" if again.batches == plan.batches else "DIFFERENT commands:\n" + plan_text(again)
    print(f"  a baseline workflow's history: {steps.shape_of(replayed).describe()}; {same}")
    print()
    print(f"{'':24}{'loans/s':>9}{'submit→201 p50/p95':>22}{'payment→settled p50/p95':>27}{'events':>8}{'KB':>7}")
    print(
        f"{'financing (public API)':24}{engine_rate:9.2f}{f'{s50:.3f} / {s95:.3f} s':>22}"
        f"{f'{p50:.3f} / {p95:.3f} s':>27}{loan_events:8.1f}{loan_bytes / 1000:7.1f}"
    )
    print(
        f"{'baseline (same steps)':24}{base_rate:9.2f}{f'{b_s50:.3f} / {b_s95:.3f} s':>22}"
        f"{f'{b_p50:.3f} / {b_p95:.3f} s':>27}{base_events:8.1f}{base_bytes / 1000:7.1f}"
    )
    print(f"ratio: {engine_rate / base_rate:.2f}  (target >= 0.90)")
    loan_phases = {phase: [loan.phases[phase] for loan in settled if phase in loan.phases] for phase in PHASES}
    print("p50 of each step, s " + "".join(f"{phase:>16}" for phase in PHASES))
    for who, phases in (("  financing", loan_phases), ("  baseline", baseline.phases)):
        print(f"{who:20}" + "".join(f"{p50_p95(phases.get(phase, []))[0]:16.3f}" for phase in PHASES))
    used, bused = engine_meter.used, baseline_meter.used
    print(
        f"CPU s per loan: worker {used['worker'] / n:.3f}, API {used['api'] / n:.3f}, "
        f"Temporal server {used['temporal'] / n:.3f}, PostgreSQL {used['postgres'] / n:.3f}, "
        f"simulators {used['simulators'] / n:.3f}, bench driver {used['bench'] / n:.3f}; "
        f"all {sum(used.values()) / n:.3f} s in {engine.seconds:.1f} s wall"
    )
    print(
        f"  baseline: its worker {bused['worker'] / nb:.3f}, Temporal server {bused['temporal'] / nb:.3f}, "
        f"bench driver {bused['bench'] / nb:.3f}; all {sum(bused.values()) / nb:.3f} s in {base.seconds:.1f} s wall"
    )
    print(
        f"worker RSS: {worker_rss:.0f} MB after the run (peak {engine_meter.peak_rss['worker'] / MB:.0f} MB); "
        f"API peak {engine_meter.peak_rss['api'] / MB:.0f} MB"
    )
    print(
        f"bank GETs per loan while waiting (poll every 0.1 s): {reads:.1f}; baseline describes per workflow: "
        f"{baseline.reads / nb:.1f}"
    )
    failed = engine.failures + base.failures
    print(
        f"failures: {len(engine.failures)} loans, {len(base.failures)} baseline" + (f": {failed[:3]}" if failed else "")
    )
    print(f"load average (1/5 min) before/after: {loads[0]} → {loads[1]} on {os.cpu_count()} cores")
    if profile_dir is not None:
        for name in ("worker", "api", "simulators"):
            print(f"py-spy, {name} during the loans:")
            print(profile.summary(profile_dir / f"{name}.txt", ours=PROJECT))


async def open_loans(count: int, concurrency: int, within: float) -> None:
    """Leave `count` loans open in `repaying` and report the worker's memory."""
    stack = LocalStack.in_temporary_directory()
    try:
        dev = await asyncio.to_thread(stack.start)
        worker = part(stack, "worker")
        idle = rss_mb(worker)
        limits = httpx.Limits(max_connections=4 * concurrency, max_keepalive_connections=4 * concurrency)
        async with httpx.AsyncClient(timeout=120, limits=limits) as http:
            platform = Platform(dev, http)
            gate = asyncio.Semaphore(concurrency)

            async def contract(n: int) -> Loan:
                async with gate:
                    return await platform.contract(n)

            batch = list(await asyncio.gather(*(contract(n) for n in range(count))))
            opened: list[Loan] = []

            async def one(loan: Loan) -> None:
                await platform.to_repaying(loan)
                opened.append(loan)

            meter = Meter({"worker": worker})
            started = time.perf_counter()
            with meter.measuring():
                try:
                    async with asyncio.timeout(within):
                        outcome = await at_concurrency(batch, concurrency, one)
                    failures = len(outcome.failures)
                except TimeoutError:
                    failures = -1
            elapsed = time.perf_counter() - started
            await asyncio.sleep(5)  # let the worker settle after the last task
            after = rss_mb(worker)
        print(f"make bench --open-loans {count}: concurrency {concurrency}, bounded at {within:.0f} s")
        print(
            f"open loans in repaying: {len(opened)} of {count} in {elapsed:.0f} s ({len(opened) / elapsed:.2f}/s)"
            + (" — stopped at the time bound" if failures < 0 else f", failures {failures}")
        )
        print(
            f"worker RSS: idle {idle:.0f} MB, with {len(opened)} open loans {after:.0f} MB "
            f"(peak {meter.peak_rss['worker'] / MB:.0f} MB; target <= 300 MB)"
        )
        print(f"worker CPU s per loan to repaying: {meter.used['worker'] / max(len(opened), 1):.3f}")
        print(f"load average (1/5 min) at the end: {load()} on {os.cpu_count()} cores")
    finally:
        await asyncio.to_thread(stack.remove)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--loans", type=int, default=60)
    parser.add_argument("--concurrency", type=int, default=12)
    parser.add_argument("--rounds", type=int, default=2, help="alternating rounds of --loans each, engine first")
    parser.add_argument("--open-loans", type=int, default=0, help="leave this many loans open; report worker RSS")
    parser.add_argument("--within", type=float, default=900.0, help="time bound of --open-loans, seconds")
    parser.add_argument("--profile", type=Path, default=None, help="py-spy the worker and the API into this folder")
    args = parser.parse_args()
    if args.open_loans:
        asyncio.run(open_loans(args.open_loans, args.concurrency, args.within))
    else:
        if args.profile is not None:
            args.profile.mkdir(parents=True, exist_ok=True)
        asyncio.run(bench(args.loans, args.concurrency, args.rounds, args.profile))


if __name__ == "__main__":
    main()
