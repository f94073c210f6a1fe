"""An API started while Temporal or PostgreSQL is down serves at once: /healthz 200, /readyz
503 saying what it waits for, handlers that need the missing part 503 `upstream_unavailable`
with Retry-After; it keeps trying (backoff, each attempt logged) and is ready once both answer."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
import httpx
from structlog.testing import capture_logs
from temporalio.testing import WorkflowEnvironment

from api.main import create_app
from domain.settings import Settings
from domain.signing import SIGNATURE_HEADER, signature_header
from store.db import create_pool
from store.principals import ensure_credentials, generate_credentials
from tests.api.test_problems import assert_problem, bearer
from tests.fixtures.database import free_port
from tests.fixtures.simulators import supplier_credit_code
from tests.fixtures.upstreams import dev_server_on, failed_attempts, late_postgres, until


@asynccontextmanager
async def serving(settings: Settings, *, pool: asyncpg.Pool | None = None) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings, pool=pool)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://api") as http:
            yield http


async def ready_eventually(http: httpx.AsyncClient) -> dict[str, Any]:
    seen: list[httpx.Response] = []

    async def probe() -> bool:
        seen.append(await http.get("/readyz"))
        return seen[-1].status_code == 200

    loop = asyncio.get_running_loop()
    deadline = loop.time() + 30
    while not await probe():
        assert loop.time() < deadline, f"never ready: {seen[-1].text}"
        await asyncio.sleep(0.1)
    body: dict[str, Any] = seen[-1].json()
    return body


def application(credit_code: str) -> dict[str, Any]:
    return {
        "contract_no": "WX-2026-WAIT-0001",
        "supplier_credit_code": credit_code,
        "product_code": "STD",
        "requested_amount": "1000.00",
        "collection_account": {"account_no": "6222020000000001", "account_name": "无锡某某科技有限公司"},
    }


async def test_an_api_started_before_temporal_answers_503_then_becomes_ready(
    db_pool: asyncpg.Pool, api_settings: Settings, credentials: dict[str, Any]
) -> None:
    port = free_port()  # nothing listens here until the dev server starts below
    settings = api_settings.model_copy(update={"temporal_address": f"127.0.0.1:{port}"})
    with capture_logs() as logs:
        async with serving(settings, pool=db_pool) as http:
            assert (await http.get("/healthz")).status_code == 200
            waiting = await http.get("/readyz")
            assert waiting.status_code == 503
            assert waiting.json()["checks"] == {"database": "ok", "temporal": "connecting"}
            submitted = await http.post(
                "/v1/applications",
                json=application(supplier_credit_code(3)),
                headers=bearer(credentials["banks"]["ICBC"]),
            )
            assert_problem(submitted, 503, "upstream_unavailable")
            assert int(submitted.headers["Retry-After"]) > 0
            await until(lambda: len(failed_attempts(logs, "temporal")) >= 2, within=10, what="two attempts")
            async with dev_server_on(port):
                ready = await ready_eventually(http)
                assert ready["checks"] == {"database": "ok", "temporal": "ok"}
                # and Temporal is really used now: an unknown application is a plain 404
                unknown = await http.get("/v1/applications/" + "f" * 32, headers=bearer(credentials["ops"]))
                assert_problem(unknown, 404, "not_found")
    attempts = failed_attempts(logs, "temporal")
    assert [a["attempt"] for a in attempts[:2]] == [1, 2]
    assert all(a["error"] for a in attempts)


async def test_an_api_started_before_postgresql_answers_503_then_becomes_ready(
    dev_server_env: WorkflowEnvironment,
) -> None:
    target = dev_server_env.client.service_client.config.target_host
    async with late_postgres() as pg:
        settings = Settings(database_url=pg.url, temporal_address=target)
        with capture_logs() as logs:
            async with serving(settings) as http:
                assert (await http.get("/healthz")).status_code == 200
                waiting = await http.get("/readyz")
                assert waiting.status_code == 503
                assert waiting.json()["checks"]["database"] == "connecting"
                # no database: no principal can be checked, no notice recorded — retry later
                listed = await http.get("/v1/applications", headers=bearer("any-key"))
                assert_problem(listed, 503, "upstream_unavailable")
                assert int(listed.headers["Retry-After"]) > 0
                notice = json.dumps(
                    {
                        "payment_id": "T20270331-0001",
                        "contract_no": "WX-2026-WAIT-0001",
                        "payee_account_no": "6222020000000001",
                        "amount": "1000.00",
                        "paid_on": "2026-01-05",
                    }
                ).encode()
                signed = await http.post(
                    "/v1/treasury/payments",
                    content=notice,
                    headers={
                        SIGNATURE_HEADER: signature_header(settings.treasury_secret, int(time.time()), notice),
                        "Content-Type": "application/json",
                    },
                )
                assert_problem(signed, 503, "upstream_unavailable")
                await until(lambda: len(failed_attempts(logs, "postgresql")) >= 2, within=10, what="two attempts")
                await pg.start()
                ready = await ready_eventually(http)
                assert ready["checks"] == {"database": "ok", "temporal": "ok"}
                # the API migrated the new database: keys issued now authenticate
                pool = await create_pool(pg.url)
                try:
                    keys = generate_credentials(["ICBC"])
                    await ensure_credentials(pool, keys)
                finally:
                    await pool.close()
                listed = await http.get("/v1/applications", headers=bearer(keys["banks"]["ICBC"]))
                assert listed.status_code == 200, listed.text
                assert listed.json()["items"] == []
