"""`GET /v1/ops/stuck` lists a process whose review SLA passed, the SLA shortened through the
settings (`review_sla_days`, i.e. ZCD_REVIEW_SLA_DAYS=1) — over the real API, a worker with
the real activities, the simulators and PostgreSQL, on the time-skipping test server, so the
day passes in a moment.

While an update or HTTP call is in flight the test server does not skip time (the Python
SDK only lets it skip inside `env.sleep` and while waiting for a workflow's result), so the
activities of the submission run at wall-clock pace against the simulators, and only the
explicit `env.sleep` moves the workflow clock by a day.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from temporalio.testing import WorkflowEnvironment

from api.main import create_app
from domain import workflow_api as names
from domain.settings import Settings
from domain.state_council_calendar import state_council_calendar
from domain.working_days import end_of_working_days
from store.applications import ApplicationRepository
from store.db import create_pool
from store.principals import ensure_credentials, generate_credentials
from tests.fixtures.database import MakeDatabase
from tests.fixtures.simulators import RunningSimulators
from worker.main import running_worker
from workflows import search_attributes as sa


@pytest.fixture
async def sla_stack(
    time_skipping_env: WorkflowEnvironment,
    make_database: MakeDatabase,
    simulators: RunningSimulators,
    monkeypatch: pytest.MonkeyPatch,
) -> AsyncIterator[dict[str, Any]]:
    database_url = await make_database()
    pool = await create_pool(database_url, min_size=1, max_size=5)
    keys = generate_credentials(["ICBC"])
    await ensure_credentials(pool, keys)
    monkeypatch.setenv("ZCD_REVIEW_SLA_DAYS", "1")  # the product's 7 days, shortened to 1
    settings = simulators.settings.model_copy(
        update={
            "database_url": database_url,
            "task_queue": f"sla-{uuid.uuid4().hex[:8]}",
            "review_sla_days": Settings().review_sla_days,
        }
    )
    assert settings.review_sla_days == 1
    app = create_app(settings, pool=pool, temporal_client=time_skipping_env.client)
    try:
        async with (
            running_worker(settings, time_skipping_env.client, database_url),
            app.router.lifespan_context(app),
        ):
            transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
            async with httpx.AsyncClient(transport=transport, base_url="http://api", timeout=30) as http:
                yield {"http": http, "keys": keys, "pool": pool, "env": time_skipping_env}
    finally:
        await pool.close()


async def test_stuck_lists_a_review_past_its_sla(sla_stack: dict[str, Any], simulators: RunningSimulators) -> None:
    http: httpx.AsyncClient = sla_stack["http"]
    env: WorkflowEnvironment = sla_stack["env"]
    bank = {"Authorization": f"Bearer {sla_stack['keys']['banks']['ICBC']}"}
    ops = {"Authorization": f"Bearer {sla_stack['keys']['ops']}"}
    contract = await simulators.new_contract()
    submitted = await http.post(
        "/v1/applications",
        json={
            "contract_no": contract.contract_no,
            "supplier_credit_code": contract.supplier.credit_code,
            "product_code": "STD",
            "requested_amount": "700000.00",
            "collection_account": {"account_no": "6222020000000001", "account_name": "无锡某某科技有限公司"},
        },
        headers=bank,
    )
    assert submitted.status_code == 201, submitted.text
    app_id = submitted.json()["application_id"]
    assert submitted.json()["stage"] == "bank_review"
    stuck = (await http.get("/v1/ops/stuck", headers=ops)).json()["items"]
    assert app_id not in [item["application_id"] for item in stuck]  # within its SLA

    # the SLA counts working days: it ends with the first working day after the hand-over
    handed_over = datetime.fromisoformat(submitted.json()["stage_since"])
    sla_ends = end_of_working_days(state_council_calendar(), handed_over, 1)
    await env.sleep(sla_ends - timedelta(hours=1) - await env.get_current_time())
    stuck = (await http.get("/v1/ops/stuck", headers=ops)).json()["items"]
    assert app_id not in [item["application_id"] for item in stuck]  # a working day has not passed yet
    await env.sleep(timedelta(hours=2))  # past the 1-working-day SLA, far from the 30-day expiry

    item: dict[str, Any] = {}
    for _ in range(200):  # the workflow flags itself and writes the read model a moment later
        listed = (await http.get("/v1/ops/stuck", headers=ops)).json()["items"]
        item = next((i for i in listed if i["application_id"] == app_id), {})
        if item:
            break
        await asyncio.sleep(0.05)
    assert item, "never listed as stuck"
    view = (await http.get(f"/v1/applications/{app_id}", headers=ops)).json()
    assert item["stage"] == "bank_review" and view["stage"] == "bank_review"
    assert item["bank_code"] == "ICBC"
    assert item["district"] == contract.purchaser.district == "梁溪区"
    assert item["contract_no"] == contract.contract_no
    assert datetime.fromisoformat(item["since"]) == datetime.fromisoformat(view["timeline"][-1]["at"])
    assert item["needs_attention"] is True
    assert isinstance(item["working_days_in_stage"], int)  # counted to the API's clock (tests/store: the count)
    assert any("review SLA" in reason for reason in item["reasons"]), item["reasons"]
    # the workflow's own view, the read model and the search attribute ops filter on agree
    assert view["needs_attention"] is True and view["attention_reasons"] == item["reasons"]
    recorded = await ApplicationRepository(sla_stack["pool"]).get(app_id)
    assert recorded is not None and recorded.needs_attention and recorded.attention_reasons == item["reasons"]
    described = await env.client.get_workflow_handle(names.workflow_id(app_id)).describe()
    attributes = described.typed_search_attributes
    assert attributes.get(sa.NEEDS_ATTENTION) is True
    assert attributes.get(sa.STAGE) == "bank_review" and attributes.get(sa.BANK) == "ICBC"
    assert attributes.get(sa.DISTRICT) == "梁溪区"
    # and the gauge an alert watches says so
    metrics = (await http.get("/metrics")).text
    stuck_gauge = {
        sample.labels["stage"]: sample.value
        for family in text_string_to_metric_families(metrics)
        for sample in family.samples
        if sample.name == "zcd_applications_stuck"
    }
    assert stuck_gauge["bank_review"] == 1
