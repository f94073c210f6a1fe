"""The worker: connects to Temporal and PostgreSQL, builds the activities over the integration
clients and the store, and polls the financing task queue until SIGTERM/SIGINT, when it stops
taking new tasks and lets the ones in hand finish. Started before Temporal or PostgreSQL
answers, it waits for them (retrying with backoff, each attempt logged) instead of exiting."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

import httpx
import structlog
from temporalio.client import Client
from temporalio.worker import Worker
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

from activities.bank import BankActivities
from activities.procurement import ProcurementActivities
from activities.records import RecordActivities
from activities.treasury import TreasuryActivities
from domain.settings import Settings
from integrations.bank import BankClient
from integrations.procurement import ProcurementClient
from integrations.treasury import TreasuryClient
from runtime.temporal import connect, metrics_url, worker_runtime
from runtime.waiting import keep_trying
from store.db import create_pool
from store.repositories import Repositories
from workflows.financing import FinancingWorkflow

log = structlog.get_logger("zcd.worker")


def build_activities(
    settings: Settings, repos: Repositories, http: httpx.AsyncClient
) -> list[Callable[..., Awaitable[Any]]]:
    procurement = ProcurementActivities(
        ProcurementClient(settings.procurement_url, http), repos.registry, payments=repos.payments
    )
    bank = BankActivities(BankClient(settings.bank_url, http), repos.ledger)
    treasury = TreasuryActivities(TreasuryClient(settings.treasury_url, http))
    records = RecordActivities(repos.applications, repos.ledger)
    return [
        procurement.fetch_dossier,
        procurement.register_financing,
        procurement.release_financing,
        procurement.request_payee_change,
        procurement.record_offline_answer,
        procurement.restore_payee_account,
        treasury.lock_payee_account,
        treasury.unlock_payee_account,
        bank.submit_for_review,
        bank.cancel_review,
        bank.disburse,
        bank.apply_repayment,
        bank.send_overdue_notice,
        records.record_application,
        records.book_write_off,
    ]


@asynccontextmanager
async def running_worker(settings: Settings, client: Client, database_url: str) -> AsyncIterator[Worker]:
    """A started worker over its own pool and HTTP client; stops gracefully on exit."""
    pool = await keep_trying("postgresql", lambda: create_pool(database_url))
    async with httpx.AsyncClient(timeout=settings.http_timeout_seconds) as http:
        worker = Worker(
            client,
            task_queue=settings.task_queue,
            workflows=[FinancingWorkflow],
            activities=build_activities(settings, Repositories.over(pool), http),
            workflow_runner=workflow_runner(),
            max_cached_workflows=settings.worker_max_cached_workflows,
            graceful_shutdown_timeout=timedelta(seconds=10),
        )
        try:
            async with worker:
                yield worker
        finally:
            await pool.close()


# The financing's own modules besides the workflow definition: pure process code (no I/O, no
# module state that changes, time only from `workflow.now()`). Passed through, they are
# imported once per worker instead of once per workflow in its sandbox: an open loan held
# ~0.55 MB of its own module copies, and re-importing them was a third of the worker's CPU
# (docs/performance.md). The tests keep the strict sandbox (tests/workflow/harness.py), so a
# restricted call in these modules still fails there; tests/worker/test_workflow_runner.py runs
# a loan on this runner.
PASSED_THROUGH = (
    "workflows.search_attributes",
    "workflows.financing.deadlines",
    "workflows.financing.messages",
    "workflows.financing.origination",
    "workflows.financing.policies",
    "workflows.financing.process",
    "workflows.financing.saga",
    "workflows.financing.servicing",
    "workflows.financing.state",
    "workflows.financing.visibility",
    "workflows.financing.workflow",
    "workflows.financing",
)


def workflow_runner() -> SandboxedWorkflowRunner:
    """The sandbox the worker runs the financing in (see PASSED_THROUGH)."""
    return SandboxedWorkflowRunner(restrictions=SandboxRestrictions.default.with_passthrough_modules(*PASSED_THROUGH))


async def serve(settings: Settings, database_url: str, stop: asyncio.Event, running: asyncio.Event) -> None:
    """Connect (waiting as long as it takes), poll until `stop`, then finish the tasks in hand.
    `running` is set once the worker polls."""
    # one runtime for every attempt: it binds the metrics port, which a second one could not
    runtime = worker_runtime(settings)
    client = await keep_trying("temporal", lambda: connect(settings, runtime=runtime, worker=True))
    async with running_worker(settings, client, database_url):
        running.set()
        log.info(
            "worker started",
            task_queue=settings.task_queue,
            temporal=settings.temporal_address,
            metrics=metrics_url(settings),
        )
        await stop.wait()
        log.info("worker stopping: finishing the tasks in hand")


async def run_worker(settings: Settings) -> None:
    if not settings.database_url:
        raise SystemExit("DATABASE_URL is not set: the worker needs the platform database (zcd run sets it)")
    stop, running = asyncio.Event(), asyncio.Event()
    serving = asyncio.ensure_future(serve(settings, settings.database_url, stop, running))
    gave_up = False

    def on_signal() -> None:
        nonlocal gave_up
        stop.set()
        if not running.is_set():
            # still waiting for Temporal or PostgreSQL: there is nothing in hand to finish
            gave_up = True
            serving.cancel()

    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, on_signal)
    try:
        await serving
    except asyncio.CancelledError:
        if not gave_up:
            raise
        log.info("worker stopped before it connected")
