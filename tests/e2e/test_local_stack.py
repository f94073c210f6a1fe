"""`zcd run` (what `make run` calls) as a supervisor: it is stopped mid-batch and started again
without losing or repeating anything, it refuses a busy port in words, it reports a child that
died with its log, and Ctrl-C during start-up leaves nothing behind.

Each test starts the real stack (embedded PostgreSQL, the Temporal dev server, the simulators,
the worker and the API) as its own process in a temporary directory on free ports.
"""

from __future__ import annotations

import asyncio
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from decimal import Decimal

import psutil
import pytest

from tests.e2e.driving import FINAL_STAGES, Loan, Platform, one_day_interest
from tests.e2e.local_stack import LocalStack

pytestmark = pytest.mark.e2e

WAITING_STAGES = frozenset({"bank_review", "account_lock", "repaying", "overdue"})
BANKS = ("ICBC", "ABC", "BOC", "CCB")


@pytest.fixture
def stack() -> Iterator[LocalStack]:
    local = LocalStack.in_temporary_directory()
    try:
        yield local
    finally:
        local.remove()


def tracebacks(local: LocalStack) -> dict[str, str]:
    """`zcd run`'s own output and every child's log that holds a Python traceback."""
    texts = {"zcd run": "\n".join(p.read_text(errors="replace") for p in local.root.glob("zcd-run-*.out"))}
    for log in sorted((local.data_dir / "logs").glob("*.log")):
        texts[log.name] = log.read_text(errors="replace")
    return {name: text for name, text in texts.items() if "Traceback" in text}


def processes_of(local: LocalStack) -> dict[int, str]:
    """Every live process started for this stack, found by its data directory (in its
    environment or command line), for runs whose children the launcher never saw."""
    marker = str(local.root)
    found: dict[int, str] = {}
    for process in psutil.process_iter(["pid", "cmdline", "status"]):
        try:
            if process.info["status"] == psutil.STATUS_ZOMBIE:
                continue
            cmdline = " ".join(process.info["cmdline"] or [])
            if marker in cmdline or marker in process.environ().get("ZCD_DATA_DIR", ""):
                found[process.pid] = cmdline
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return found


def child(local: LocalStack, name: str, within: float = 60) -> psutil.Process:
    """The stack's child `zcd <name>` (or the postgres/temporal server), once it exists."""
    assert local.process is not None
    needle = {"postgres": "bin/postgres", "temporal": "server start-dev"}.get(name, f"cli.main {name}")
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        assert local.process.poll() is None, local.output()
        for process in psutil.Process(local.process.pid).children(recursive=True):
            try:
                if needle in " ".join(process.cmdline()):
                    return process
            except psutil.NoSuchProcess:
                continue
        time.sleep(0.05)  # polling for a process another one starts
    raise AssertionError(f"no {name} child within {within:.0f} s:\n{local.output()}")


def launch(local: LocalStack) -> subprocess.Popen[bytes]:
    """`zcd run` without waiting for dev.json (LocalStack.start waits for it)."""
    local.runs += 1
    with local.output_path.open("wb") as out:
        local.process = subprocess.Popen(
            [sys.executable, "-m", "cli.main", "run"],
            cwd=local.root,
            env=local.env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    return local.process


# ---- 1. stopped mid-batch, started again: nothing lost, nothing twice ----------------------


async def test_a_restart_mid_batch_loses_and_repeats_nothing(stack: LocalStack) -> None:
    dev = stack.start()
    async with Platform.of(dev) as platform:
        loans = [
            await platform.new_loan(BANKS[i % len(BANKS)], requested_amount=f"{500_000 + 25_000 * i}.00")
            for i in range(12)
        ]
        reviewing, approved, confirmed, paid = loans[0:3], loans[3:6], loans[6:9], loans[9:12]
        for loan in loans:
            await platform.submit(loan)

        # paid: disbursed, then the treasury pays more than is owed, on the disbursement day
        for loan in paid:
            await platform.approve(loan)
        for loan in paid:
            await platform.until(loan, "account_lock")
            assert (await platform.purchaser_answers(loan))["platform_status"] == "accepted"
        paid_on = {loan.application_id: (await platform.until(loan, "repaying"))["disbursed_on"] for loan in paid}
        for loan in confirmed:
            await platform.approve(loan)
        for loan in confirmed:
            await platform.until(loan, "account_lock")
        # the last steps before the stop, all at once, and none awaited beyond its answer: the
        # payments are being allocated, the loans disbursed and the locks requested when Ctrl-C comes
        sent, answered, decided = await asyncio.gather(
            asyncio.gather(*(platform.treasury_pays(loan, _paid(loan), paid_on[loan.application_id]) for loan in paid)),
            asyncio.gather(*(platform.purchaser_answers(loan) for loan in confirmed)),
            asyncio.gather(*(platform.approve(loan) for loan in approved)),
        )
        assert [f["platform_status"] for f in sent + answered] == ["accepted"] * 6
        assert all(f["stage"] in ("verifying", "bank_review", "account_lock") for f in decided)

    assert stack.interrupt() == 0, stack.output()
    assert stack.left_running() == {}
    assert not (stack.data_dir / "dev.json").exists()

    again = stack.start()
    assert again["credentials"] == dev["credentials"]  # the same keys: the banks need not be told anything
    async with Platform.of(again) as platform:
        # paid before the stop: settled once, exactly
        for loan in paid:
            view = await platform.until(loan, "settled")
            await _assert_settled_exactly(platform, loan, view)
        # confirmed before the stop: disbursed once, then waiting for the treasury
        for loan in confirmed:
            await platform.until(loan, "repaying")
            assert len(await platform.disbursements(loan)) == 1
        # approved before the stop: the lock is waiting for the purchaser
        for loan in approved:
            await platform.until(loan, "account_lock")
            assert await platform.disbursements(loan) == []
        for loan in reviewing:
            assert (await platform.application(loan))["stage"] == "bank_review"

        # the waiting ones carry on: one at each stage is taken to its end
        carried = [reviewing[0], approved[0], confirmed[0]]
        await platform.approve(reviewing[0])
        for loan in carried[:2]:
            await platform.until(loan, "account_lock")
            assert (await platform.purchaser_answers(loan))["platform_status"] == "accepted"
        for loan in carried:
            disbursed_on = (await platform.until(loan, "repaying"))["disbursed_on"]
            payment = await platform.treasury_pays(loan, _paid(loan), disbursed_on)
            assert payment["platform_status"] == "accepted", payment
        for loan in carried:
            await _assert_settled_exactly(platform, loan, await platform.until(loan, "settled"))

        # nothing lost: every loan of the batch is where a person would expect it
        for loan in loans:
            stage = (await platform.application(loan))["stage"]
            assert stage in FINAL_STAGES | WAITING_STAGES, (loan, stage)
            assert stage not in FINAL_STAGES - {"settled"}, (loan, stage)
            assert len(await platform.disbursements(loan)) == (0 if stage in ("bank_review", "account_lock") else 1)

        # the simulators' ids went on from where they were: no id given twice across the restart
        every_disbursement = await platform.disbursements()
        every_payment = await platform.payments()
        ids = [d["disbursement_id"] for d in every_disbursement]
        assert len(ids) == len(set(ids)) == len(paid) + len(confirmed) + 2
        payment_ids = [p["payment_id"] for p in every_payment]
        assert len(payment_ids) == len(set(payment_ids)) == len(paid) + len(carried)

    assert stack.interrupt() == 0, stack.output()
    assert stack.left_running() == {}
    assert tracebacks(stack) == {}
    # each part was stopped, not killed: it said so in its log, twice (once per run)
    logs = stack.data_dir / "logs"
    assert (logs / "simulators.log").read_text().count("simulators.stopped") == 2
    assert (logs / "worker.log").read_text().count("worker stopping") == 2
    assert (logs / "api.log").read_text().count("Application shutdown complete") == 2
    assert (logs / "postgres.log").read_text().count("database system is shut down") >= 2


def _paid(loan: Loan) -> str:
    """What the treasury pays: the contract money due, more than the loan owes."""
    return f"{loan.requested_amount + Decimal('100000.00'):.2f}"


async def _assert_settled_exactly(platform: Platform, loan: Loan, view: dict[str, object]) -> None:
    interest = one_day_interest(loan.requested_amount, loan.annual_rate)
    surplus = Decimal(_paid(loan)) - loan.requested_amount - interest
    assert (view["interest_paid"], view["principal_repaid"], view["surplus_released"]) == (
        f"{interest:.2f}",
        f"{loan.requested_amount:.2f}",
        f"{surplus:.2f}",
    ), view
    assert (view["outstanding_principal"], view["penalty_paid"]) == ("0.00", "0.00")
    assert len(await platform.disbursements(loan)) == 1  # paid out once
    assert len(await platform.payments(loan)) == 1  # the treasury paid once
    captured = await platform.repayments(loan)
    assert len(captured) == 1, captured  # and the bank captured it once
    assert Decimal(captured[0]["captured"]) == loan.requested_amount + interest
    assert Decimal(captured[0]["released"]) == surplus


# ---- 2. a busy port ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("setting", "what"),
    [
        ("ZCD_API_PORT", "API"),
        ("ZCD_TEMPORAL_ADDRESS", "Temporal"),
        ("ZCD_DATABASE_PORT", "PostgreSQL"),
        ("ZCD_WORKER_METRICS_PORT", "worker metrics"),
    ],
)
def test_a_busy_port_is_named_with_its_setting(stack: LocalStack, setting: str, what: str) -> None:
    port = int(stack.env[setting].rpartition(":")[2])
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as squatter:
        squatter.bind(("127.0.0.1", port))
        squatter.listen()
        started = time.monotonic()
        run = launch(stack)
        code = run.wait(timeout=60)
        took = time.monotonic() - started
    output = stack.output()
    assert code != 0, output
    assert took < 20, f"{took:.1f} s to refuse a busy port"
    assert f"{what}: 127.0.0.1:{port} is in use" in output
    assert setting in output
    assert "Traceback" not in output
    assert processes_of(stack) == {}
    assert not (stack.data_dir / "dev.json").exists()


# ---- 3. a child that dies ------------------------------------------------------------------


@pytest.mark.parametrize("name", ["simulators", "worker"])
def test_a_child_that_dies_stops_the_stack_and_shows_its_log(stack: LocalStack, name: str) -> None:
    stack.start()
    victim = child(stack, name)
    last_line = (stack.data_dir / "logs" / f"{name}.log").read_text().splitlines()[-1]
    victim.kill()
    assert stack.process is not None
    code = stack.process.wait(timeout=60)
    output = stack.output()
    assert code != 0, output
    assert f"{name} was killed by SIGKILL" in output
    assert f"{name}.log" in output and last_line in output
    assert "Traceback" not in output
    stack.process = None
    assert stack.left_running() == {}
    assert not (stack.data_dir / "dev.json").exists()


# ---- 4. Ctrl-C while it starts ---------------------------------------------------------------


@pytest.mark.parametrize("when", ["postgres", "temporal", "simulators"])
def test_ctrl_c_during_start_up_stops_cleanly(stack: LocalStack, when: str) -> None:
    run = launch(stack)
    child(stack, when)
    stack.remember_children()
    run.send_signal(signal.SIGINT)
    code = run.wait(timeout=60)
    stack.process = None
    output = stack.output()
    assert code == 0, output
    assert not (stack.data_dir / "dev.json").exists()
    assert stack.left_running() == {}
    assert processes_of(stack) == {}
    assert tracebacks(stack) == {}, output


# ---- 5. the terminal closes, or zcd run itself is killed -----------------------------------


def test_closing_the_terminal_stops_everything_in_order(stack: LocalStack) -> None:
    stack.start()
    assert stack.process is not None
    stack.remember_children()
    stack.process.send_signal(signal.SIGHUP)
    assert stack.process.wait(timeout=60) == 0, stack.output()
    stack.process = None
    assert stack.left_running() == {}
    assert not (stack.data_dir / "dev.json").exists()
    assert tracebacks(stack) == {}


def test_when_zcd_run_is_killed_its_children_go_with_it(stack: LocalStack) -> None:
    stack.start()
    assert stack.process is not None
    stack.remember_children()
    stack.process.kill()  # no chance to stop anything itself: the kernel tells the children
    stack.process.wait()
    stack.process = None
    assert stack.left_running(within=30) == {}
