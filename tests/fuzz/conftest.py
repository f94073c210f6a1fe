"""The fuzz's stack: the API on a real port over the module's own PostgreSQL database, the
Temporal dev server, a worker with the real activities and the simulators calling back — as
tests/api/test_end_to_end.py builds it — with two banks, and a few applications seeded in
different stages so that ids in paths and bodies are real ones."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
import httpx
import pytest
import uvicorn
from temporalio.testing import WorkflowEnvironment

from api.main import create_app
from domain.settings import Settings
from domain.signing import SIGNATURE_HEADER, signature_header
from store.principals import ensure_credentials, generate_credentials
from tests.api.lifecycle import application_body, bank_headers, disbursed, until
from tests.fixtures.database import free_port
from tests.fixtures.simulators import running_simulators
from tests.fuzz.generators import World
from worker.main import running_worker


@pytest.fixture(scope="module")
async def fuzz_stack(
    dev_server_env: WorkflowEnvironment, database_url: str, db_pool: asyncpg.Pool
) -> AsyncIterator[dict[str, Any]]:
    keys = generate_credentials(["ICBC", "ABC"])
    await ensure_credentials(db_pool, keys)
    port = free_port()
    api_url = f"http://127.0.0.1:{port}"
    base = Settings(
        database_url=database_url,
        treasury_secret=keys["treasury_secret"],
        procurement_secret=keys["procurement_secret"],
    )
    async with running_simulators(platform_url=api_url, base=base) as sims:
        settings = sims.settings.model_copy(
            update={
                "database_url": database_url,
                "api_host": "127.0.0.1",
                "api_port": port,
                "task_queue": f"fuzz-{uuid.uuid4().hex[:8]}",
            }
        )
        app = create_app(settings, pool=db_pool, temporal_client=dev_server_env.client)
        server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, lifespan="on", access_log=False)
        )
        serving = asyncio.create_task(server.serve())
        try:
            async with running_worker(settings, dev_server_env.client, database_url):
                deadline = time.monotonic() + 10
                while not server.started:
                    assert time.monotonic() < deadline, "the API did not start"
                    await asyncio.sleep(0.05)
                async with httpx.AsyncClient(base_url=api_url, timeout=30) as http:
                    yield {
                        "http": http,
                        "sims": sims,
                        "keys": keys,
                        "settings": settings,
                        "port": port,
                        "pool": db_pool,
                        "temporal": dev_server_env.client,
                    }
        finally:
            server.should_exit = True
            await serving


async def signed_payment(stack: dict[str, Any], notice: dict[str, Any]) -> httpx.Response:
    body = json.dumps(notice).encode()
    headers = {SIGNATURE_HEADER: signature_header(stack["keys"]["treasury_secret"], int(time.time()), body)}
    response: httpx.Response = await stack["http"].post("/v1/treasury/payments", content=body, headers=headers)
    return response


@pytest.fixture(scope="module")
async def world(fuzz_stack: dict[str, Any]) -> World:
    """Applications of this bank in bank_review, account_lock, repaying (two) and settled, and
    another bank's in bank_review and account_lock; one contract never financed."""
    stack = fuzz_stack
    http: httpx.AsyncClient = stack["http"]
    sims = stack["sims"]
    bank, other = bank_headers(stack), bank_headers(stack, "ABC")
    subjects: dict[str, str] = {}
    accounts: list[str] = []
    suppliers: list[str] = []

    async def submitted(headers: dict[str, str], account: str) -> str:
        contract = await sims.new_contract()
        answer = await http.post("/v1/applications", json=application_body(contract, account), headers=headers)
        assert answer.status_code == 201, answer.text
        app_id = str(answer.json()["application_id"])
        subjects[app_id] = contract.contract_no
        suppliers.append(contract.supplier.credit_code)
        return app_id

    async def approved(headers: dict[str, str], account: str) -> str:
        app_id = await submitted(headers, account)
        decision = {"decision": "approve", "approved_amount": "500000.00", "annual_rate": "0.0400", "term_days": 90}
        answer = await http.post(f"/v1/applications/{app_id}/decision", json=decision, headers=headers)
        assert answer.status_code == 200, answer.text
        await until(http, f"/v1/applications/{app_id}", headers, "account_lock")
        return app_id

    reviewing = await submitted(bank, "6222030000000001")
    locking = await approved(bank, "6222030000000002")
    repaying: list[str] = []
    for n, account in enumerate(("6222030000000003", "6222030000000004", "6222030000000005")):
        app_id, contract = await disbursed(stack, account, "500000.00")
        subjects[app_id] = contract.contract_no
        suppliers.append(contract.supplier.credit_code)
        accounts.append(account)
        repaying.append(app_id)
        if n == 2:  # paid in full by the treasury: settled
            notice = {
                "payment_id": f"FZ-SEED-{uuid.uuid4().hex[:8]}",
                "contract_no": contract.contract_no,
                "payee_account_no": account,
                "amount": "600000.00",
                "paid_on": datetime.now(ZoneInfo("Asia/Shanghai")).date().isoformat(),
            }
            paid = await signed_payment(stack, notice)
            assert paid.status_code == 202 and paid.json()["status"] == "accepted", paid.text
            await until(http, f"/v1/applications/{app_id}", bank, "settled")
    theirs = [await submitted(other, "6222030000000011"), await approved(other, "6222030000000012")]
    accounts += ["6222030000000002", "6222030000000012"]
    spare = [await sims.new_contract() for _ in range(2)]
    suppliers += [c.supplier.credit_code for c in spare]

    cursors: list[str] = []
    ops = {"Authorization": f"Bearer {stack['keys']['ops']}"}
    for headers in (bank, ops):
        page = await http.get("/v1/applications", params={"limit": 1}, headers=headers)
        assert page.status_code == 200, page.text
        if page.json()["next_cursor"]:
            cursors.append(str(page.json()["next_cursor"]))
    assert cursors, "no list gave a cursor to tamper with"
    return World(
        own_ids=[reviewing, locking, *repaying],
        other_ids=theirs,
        contracts=sorted(subjects.values()),
        spare_contracts=[c.contract_no for c in spare],
        supplier_codes=suppliers,
        accounts=accounts,
        cursors=cursors,
        today=datetime.now(ZoneInfo("Asia/Shanghai")).date(),
        ops_key=str(stack["keys"]["ops"]),
        bank_key=str(stack["keys"]["banks"]["ICBC"]),
        subjects=subjects,
    )
