"""GET /metrics: the gauges computed from PostgreSQL at scrape time, for a known book — and a
scrape that still answers (with `zcd_database_up 0`) when the database does not."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import asyncpg
import httpx
from prometheus_client.parser import text_string_to_metric_families
from temporalio.client import Client

from api.main import create_app
from domain.settings import Settings
from domain.stages import Stage
from store.applications import ApplicationRepository
from store.db import create_pool
from tests.api.conftest import NoTemporal
from tests.fixtures.database import MakeDatabase

NOW = datetime.now(UTC)


@asynccontextmanager
async def api_over(pool: asyncpg.Pool) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(Settings(), pool=pool, temporal_client=cast(Client, NoTemporal()))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://api") as client:
            yield client


async def scrape(http: httpx.AsyncClient) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    response = await http.get("/metrics")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


async def add_application(
    pool: asyncpg.Pool,
    app_id: str,
    stage: Stage,
    *,
    attention: bool = False,
    deadline: datetime | None = None,
) -> None:
    await pool.execute(
        """
        INSERT INTO applications (application_id, bank_code, contract_no, supplier_credit_code, district, stage,
                                  product_code, requested_amount, needs_attention, attention_reasons,
                                  stage_since, stage_deadline, submitted_at, version, last_event, view)
        VALUES ($1, 'ICBC', $2, '91320200MA1MXY3K0X', '梁溪区', $3, 'STD', 700000, $4, $5,
                $6, $7, $6, 1, 'test', '{}'::jsonb)
        """,
        app_id,
        f"WX-{app_id}",
        stage.value,
        attention,
        ["the bank has not decided"] if attention else [],
        NOW - timedelta(days=3),
        deadline,
    )


async def add_payment(
    pool: asyncpg.Pool, payment_id: str, status: str, *, delivered: bool = False, age: timedelta = timedelta(0)
) -> None:
    await pool.execute(
        """
        INSERT INTO treasury_payments (payment_id, contract_no, payee_account_no, amount, paid_on, status,
                                       application_id, raw_body, received_at, delivered_at)
        VALUES ($1, 'WX-1', '6222', 100, current_date, $2, $3, '{}', $4, $5)
        """,
        payment_id,
        status,
        None if status == "unmatched" else "a-repaying",
        NOW - age,
        NOW if delivered else None,
    )


async def add_account_change(pool: asyncpg.Pool, event_id: str, status: str, *, age: timedelta) -> None:
    await pool.execute(
        """
        INSERT INTO account_change_events (event_id, contract_no, decision, decided_at, status, application_id,
                                           raw_body, received_at)
        VALUES ($1, 'WX-2', 'confirmed', $2, $3, $4, '{}', $2)
        """,
        event_id,
        NOW - age,
        status,
        None if status == "unmatched" else "a-lock-late",
    )


async def test_gauges_for_a_known_book(fresh_db_pool: asyncpg.Pool) -> None:
    pool = fresh_db_pool
    await add_application(pool, "a-review-flagged", Stage.BANK_REVIEW, attention=True, deadline=NOW + timedelta(days=9))
    await add_application(pool, "a-review-fine", Stage.BANK_REVIEW, deadline=NOW + timedelta(days=9))
    await add_application(pool, "a-lock-late", Stage.ACCOUNT_LOCK, deadline=NOW - timedelta(hours=2))
    await add_application(pool, "a-repaying", Stage.REPAYING)
    # final, but keeping a message for a person (its process waits for ops): stuck
    await add_application(pool, "a-settled-flagged", Stage.SETTLED, attention=True)
    await add_application(pool, "a-failed-late", Stage.FAILED, deadline=NOW - timedelta(days=3))  # final: not stuck
    await add_payment(pool, "T-accepted", "accepted", age=timedelta(minutes=2))
    await add_payment(pool, "T-misdirected", "misdirected", age=timedelta(seconds=30))
    await add_payment(pool, "T-unmatched", "unmatched", age=timedelta(hours=1))  # kept for ops, not delivered
    await add_payment(pool, "T-delivered", "accepted", delivered=True, age=timedelta(hours=2))
    await add_account_change(pool, "E-accepted", "accepted", age=timedelta(minutes=5))
    await add_account_change(pool, "E-unmatched", "unmatched", age=timedelta(hours=1))

    async with api_over(pool) as http:
        assert (await http.get("/healthz")).status_code == 200
        metrics = await scrape(http)

    def gauge(name: str, **labels: str) -> float:
        return metrics[(name, tuple(sorted(labels.items())))]

    assert gauge("zcd_database_up") == 1
    expected_counts = {stage.value: 0 for stage in Stage} | {"bank_review": 2, "account_lock": 1, "repaying": 1}
    expected_counts["settled"] = expected_counts["failed"] = 1
    assert {stage.value: gauge("zcd_applications", stage=stage.value) for stage in Stage} == expected_counts
    stuck = {stage.value: gauge("zcd_applications_stuck", stage=stage.value) for stage in Stage}
    assert stuck == {stage.value: 0 for stage in Stage} | {"bank_review": 1, "account_lock": 1, "settled": 1}

    # the gauge counts exactly what GET /v1/ops/stuck lists
    listed = await ApplicationRepository(pool).stuck(datetime.now(UTC))
    assert sorted(item.application_id for item in listed) == ["a-lock-late", "a-review-flagged", "a-settled-flagged"]
    assert sum(stuck.values()) == len(listed)

    assert gauge("zcd_inbox_undelivered", inbox="treasury_payments") == 2
    assert gauge("zcd_inbox_undelivered", inbox="account_changes") == 1
    assert 120 <= gauge("zcd_inbox_undelivered_oldest_seconds", inbox="treasury_payments") < 600
    assert 300 <= gauge("zcd_inbox_undelivered_oldest_seconds", inbox="account_changes") < 900
    # the request counters are still there beside the gauges
    assert metrics[("zcd_http_requests_total", (("method", "GET"), ("route", "/healthz"), ("status", "200")))] >= 1


async def test_an_empty_book_reads_zero(fresh_db_pool: asyncpg.Pool) -> None:
    async with api_over(fresh_db_pool) as http:
        metrics = await scrape(http)
    assert metrics[("zcd_inbox_undelivered", (("inbox", "treasury_payments"),))] == 0
    assert metrics[("zcd_inbox_undelivered_oldest_seconds", (("inbox", "account_changes"),))] == 0
    assert metrics[("zcd_applications_stuck", (("stage", "bank_review"),))] == 0


async def test_scrape_answers_when_the_database_does_not(make_database: MakeDatabase) -> None:
    pool = await create_pool(await make_database(), min_size=1, max_size=2)
    async with api_over(pool) as http:
        await pool.close()  # the database is gone for this API
        metrics: dict[Any, float] = await scrape(http)
    assert metrics[("zcd_database_up", ())] == 0
    assert not any(name.startswith(("zcd_applications", "zcd_inbox")) for name, _ in metrics)
