"""The bank simulator's book from the event feed (simulators/bank_feed.py) on the real platform:
after a demo-like run — the demo's own plan and driver — each bank's book, built from
`GET /v1/events` alone, equals `/v1/stats` for that bank, and every application's events were
applied exactly once, in the feed's order, across a restart of the API (the feed's reader gone
while the process moved on) and of a worker (the writer gone mid-process)."""

from __future__ import annotations

import asyncio
import json
import tempfile
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import asyncpg
import pytest
import uvicorn
from fastapi import FastAPI
from temporalio.testing import WorkflowEnvironment

from api.main import create_app
from demo.driving import Driver, drive_all
from demo.plan import plan_financings
from demo.reconciliation import book_disagreements
from domain.settings import Settings
from domain.stages import Stage
from outside_world import Handoff, OutsideWorld
from outside_world.bank import application_request
from outside_world.procurement import SUPPLIER_NAME, fresh_contract
from store.principals import ensure_credentials, generate_credentials
from tests.fixtures.database import free_port
from tests.fixtures.simulators import running_simulators
from worker.main import running_worker

pytestmark = pytest.mark.e2e

BANKS = ["ICBC", "ABC"]


@dataclass
class Restartable:
    """The API on a fixed port and a worker, each stopped and started again on demand."""

    settings: Settings
    new_app: Callable[[], FastAPI]  # a new API process's app, over the same database and Temporal
    temporal: Any
    database_url: str
    api: tuple[uvicorn.Server, asyncio.Task[None]] | None = None
    worker: AsyncExitStack | None = None
    restarts: dict[str, int] = field(default_factory=lambda: {"api": 0, "worker": 0})

    async def start_api(self) -> None:
        config = uvicorn.Config(self.new_app(), host="127.0.0.1", port=self.settings.api_port, log_config=None)
        server = uvicorn.Server(config)
        self.api = (server, asyncio.create_task(server.serve()))
        for _ in range(500):  # at most 10 s for the socket to be bound again
            if server.started:
                return
            await asyncio.sleep(0.02)
        raise AssertionError("the API did not start again")

    async def stop_api(self) -> None:
        assert self.api is not None
        server, serving = self.api
        server.should_exit = True
        await serving
        self.api = None
        self.restarts["api"] += 1

    async def start_worker(self) -> None:
        self.worker = AsyncExitStack()
        await self.worker.enter_async_context(running_worker(self.settings, self.temporal, self.database_url))

    async def stop_worker(self) -> None:
        assert self.worker is not None
        await self.worker.aclose()
        self.worker = None
        self.restarts["worker"] += 1


@pytest.fixture(scope="module")
async def platform(
    dev_server_env: WorkflowEnvironment, database_url: str, db_pool: asyncpg.Pool
) -> AsyncIterator[tuple[OutsideWorld, Restartable]]:
    keys = generate_credentials(BANKS)
    await ensure_credentials(db_pool, keys)
    home = Path(tempfile.mkdtemp(prefix="zcd-bank-book-"))
    credentials = home / "credentials.json"
    credentials.write_text(json.dumps(keys))
    port = free_port()
    api_url = f"http://127.0.0.1:{port}"
    base = Settings(
        database_url=database_url,
        treasury_secret=keys["treasury_secret"],
        procurement_secret=keys["procurement_secret"],
        bank_feed_credentials=credentials,
        bank_feed_idle_seconds=0.3,
    )
    async with running_simulators(platform_url=api_url, base=base, data_dir=home) as sims:
        settings = sims.settings.model_copy(
            update={"api_host": "127.0.0.1", "api_port": port, "task_queue": f"book-{uuid.uuid4().hex[:8]}"}
        )
        parts = Restartable(
            settings,
            lambda: create_app(settings, pool=db_pool, temporal_client=dev_server_env.client),
            dev_server_env.client,
            database_url,
        )
        await parts.start_api()
        await parts.start_worker()
        handoff = Handoff(
            api=api_url,
            procurement=settings.procurement_url,
            bank=settings.bank_url,
            treasury=settings.treasury_url,
            bank_keys=keys["banks"],
            ops_key=keys["ops"],
            treasury_secret=keys["treasury_secret"],
        )
        try:
            async with OutsideWorld.connected(handoff) as world:
                yield world, parts
        finally:
            if parts.worker is not None:
                await parts.worker.aclose()
            if parts.api is not None:
                await parts.stop_api()


async def _in_account_lock(world: OutsideWorld, bank_code: str) -> tuple[str, str]:
    contract = fresh_contract("WX-2026-K", Decimal("1000000.00"))
    await world.procurement.create_contract(contract)
    bank = world.bank(bank_code)
    request = application_request(
        contract.contract_no,
        contract.supplier.credit_code,
        Decimal("600000.00"),
        f"6222{uuid.uuid4().int % 10**12:012d}",
        SUPPLIER_NAME,
    )
    app_id = str((await bank.submit(request))["application_id"])
    await bank.approve(app_id, Decimal("600000.00"), Decimal("0.0400"), 90)
    await bank.until_stage(app_id, Stage.ACCOUNT_LOCK)
    return app_id, contract.contract_no


async def test_each_banks_book_from_events_equals_stats_across_restarts(
    platform: tuple[OutsideWorld, Restartable],
) -> None:
    world, parts = platform
    # a demo-like run: the demo's plan (every scenario once in ten) and its driver
    plans = plan_financings(10, 31, world.handoff.bank_keys, uuid.uuid4().hex[:10].upper())
    outcomes = await drive_all(Driver(world, stage_timeout=60), plans, 5)
    assert [o.error for o in outcomes if o.error] == []

    # the API goes away the moment the purchaser's confirmation is in: the payout goes on
    # without it (events written while nobody can read the feed), and the feed is read again after
    across_api, contract_no = await _in_account_lock(world, "ICBC")
    assert (await world.procurement.purchaser_answers(contract_no, "confirmed"))["platform_status"] == "accepted"
    await parts.stop_api()
    for _ in range(600):  # the bank's payout, seen in its own system (at most 60 s)
        if await world.bank_systems.disbursements(contract_no=contract_no):
            break
        await asyncio.sleep(0.1)
    else:
        raise AssertionError(f"no payout for {contract_no} while the API was down")
    await parts.start_api()
    await world.bank("ICBC").until_stage(across_api, Stage.REPAYING)

    # the worker goes away with a loan waiting for its lock; the purchaser confirms meanwhile
    across_worker, contract_no = await _in_account_lock(world, "ABC")
    await parts.stop_worker()
    assert (await world.procurement.purchaser_answers(contract_no, "confirmed"))["platform_status"] == "accepted"
    await parts.start_worker()
    repaying = await world.bank("ABC").until_stage(across_worker, Stage.REPAYING)
    paid = await world.treasury.pay(contract_no, Decimal("700000.00"), paid_on=None)
    assert paid["platform_status"] == "accepted"
    await world.bank("ABC").until_stage(across_worker, Stage.SETTLED)
    assert repaying["disbursed_on"] is not None and parts.restarts == {"api": 1, "worker": 1}

    # the books catch up (each poll at most 0.3 s apart) and then equal the bureau's figures
    found: list[str] = ["not read yet"]
    async with asyncio.timeout(30):
        while found:
            books = (await world.bank_systems.book())["banks"]
            found = book_disagreements(books, await world.ops.stats())
            if found:
                await asyncio.sleep(0.2)
    by_bank = {row["bank_code"]: row for row in (await world.ops.stats())["by_bank"]}
    assert all(by_bank[code]["loans"] >= 1 for code in BANKS)  # something to compare, at each bank

    # exactly once, in order: each application's events in the book are the feed's, id for id
    in_book: set[str] = set()
    for code in BANKS:
        feed, _ = await world.bank(code).events_until_now()
        shown = (await world.bank_systems.book(code, loans=True))["banks"][0]
        assert shown["events_applied"] == len(feed) == len({e["event_id"] for e in feed})
        assert shown["out_of_order"] == [] and shown["last_error"] is None
        for loan in shown["loans_in_book"]:
            app_id = loan["application_id"]
            in_book.add(app_id)
            mine = [e["event_id"] for e in feed if e["application_id"] == app_id]
            assert [line.split()[0] for line in loan["events"]] == mine, app_id
            view = await world.bank(code).application(app_id)
            assert loan["stage"] == view["stage"], (app_id, loan, view)
            assert (loan["principal_repaid"], loan["interest_paid"]) == (
                view["principal_repaid"],
                view["interest_paid"],
            )
    assert {across_api, across_worker} | {o.application_id for o in outcomes} <= in_book
