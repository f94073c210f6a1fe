"""A supplier signs in with its credit code and a one-time SMS code (API.md v1.1 "Suppliers"),
over the API on the module's database and the simulated SMS gateway: 202 always, codes hashed,
single use, 5 minutes, five wrong in a row lock (429), and the token is a principal of its own
(403 on bank and ops endpoints, and bank and ops keys 403 on the supplier's)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any, cast

import asyncpg
import httpx
import pytest
import structlog
from temporalio.client import Client

from api.main import create_app
from domain.settings import Settings
from store.audit import AuditTrail
from tests.api.conftest import NoTemporal
from tests.api.supplier_sign_in import latest_code, sign_in
from tests.api.test_problems import assert_problem, bearer
from tests.fixtures.simulators import RunningSimulators, supplier_credit_code


@pytest.fixture
async def api(
    db_pool: asyncpg.Pool, api_settings: Settings, simulators: RunningSimulators
) -> AsyncIterator[httpx.AsyncClient]:
    settings = api_settings.model_copy(update={"sms_url": simulators.sms_url})
    app = create_app(settings, pool=db_pool, temporal_client=cast(Client, NoTemporal()))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://api") as client:
            yield client


async def sent_to(sims: RunningSimulators, credit_code: str) -> list[dict[str, str]]:
    items: list[dict[str, str]] = (await sims.hook("sms", "GET", "/sim/messages", to=credit_code)).json()["items"]
    return items


async def ask(api: httpx.AsyncClient, credit_code: str) -> httpx.Response:
    return await api.post("/v1/supplier/login-codes", json={"credit_code": credit_code})


async def present(api: httpx.AsyncClient, credit_code: str, code: str) -> httpx.Response:
    return await api.post("/v1/supplier/sessions", json={"credit_code": credit_code, "code": code})


def wrong(code: str) -> str:
    return f"{(int(code) + 1) % 1_000_000:06d}"


async def test_any_well_formed_credit_code_gets_the_same_202(api: httpx.AsyncClient, simulators: RunningSimulators):
    known, nobody = supplier_credit_code(), supplier_credit_code()
    await simulators.new_contract(supplier={"credit_code": known, "name": "无锡某某科技有限公司"})
    first, second = await ask(api, known), await ask(api, nobody)
    assert first.status_code == second.status_code == 202
    assert (
        first.json()
        == second.json()
        == {
            "status": "accepted",
            "code_lifetime_seconds": 300,
            "resend_after_seconds": 60,
        }
    )
    assert len(await sent_to(simulators, known)) == 1  # the gateway knows which phone, if any
    assert_problem(await ask(api, "91320200MA1MXY3K1C"), 422, "validation_error")  # check character
    assert_problem(await api.post("/v1/supplier/login-codes", json={}), 422, "validation_error")


async def test_sign_in_once_with_the_code_and_use_the_token(
    api: httpx.AsyncClient, simulators: RunningSimulators, db_pool: asyncpg.Pool
) -> None:
    credit_code = supplier_credit_code()
    assert (await ask(api, credit_code)).status_code == 202
    code = await latest_code(simulators, credit_code)
    opened = await present(api, credit_code, code)
    assert opened.status_code == 201, opened.text
    body = opened.json()
    assert body["token"].startswith("zcs_") and body["credit_code"] == credit_code
    assert body["expires_at"].endswith("+08:00")
    again = await present(api, credit_code, code)
    assert_problem(again, 401, "unauthenticated")  # one use
    stored = await db_pool.fetch("SELECT code_hash FROM supplier_login_codes WHERE credit_code = $1", credit_code)
    assert [bytes(r["code_hash"]) for r in stored] and all(code.encode() not in bytes(r["code_hash"]) for r in stored)
    sessions = await db_pool.fetch("SELECT token_hash FROM supplier_sessions WHERE credit_code = $1", credit_code)
    assert len(sessions) == 1 and body["token"].encode() not in bytes(sessions[0]["token_hash"])
    trail = await db_pool.fetch("SELECT action FROM audit_log WHERE actor = $1 ORDER BY seq", f"supplier:{credit_code}")
    assert [r["action"] for r in trail] == ["supplier.signed_in"]
    assert (await AuditTrail(db_pool).verify()).intact


async def test_a_code_expires_after_five_minutes(
    api: httpx.AsyncClient, simulators: RunningSimulators, db_pool: asyncpg.Pool
) -> None:
    credit_code = supplier_credit_code()
    await ask(api, credit_code)
    code = await latest_code(simulators, credit_code)
    # five minutes pass (the rule itself is unit-tested with a clock: tests/unit/test_supplier_login.py)
    await db_pool.execute(
        "UPDATE supplier_login_codes SET created_at = created_at - interval '6 minutes', "
        "expires_at = expires_at - interval '6 minutes' WHERE credit_code = $1",
        credit_code,
    )
    assert_problem(await present(api, credit_code, code), 401, "unauthenticated")
    await ask(api, credit_code)  # a minute has passed too: a new code is sent, and works
    fresh = await latest_code(simulators, credit_code)
    assert (await present(api, credit_code, fresh)).status_code == 201


async def test_asking_again_within_a_minute_sends_nothing_and_the_code_stays_valid(
    api: httpx.AsyncClient, simulators: RunningSimulators
) -> None:
    credit_code = supplier_credit_code()
    await ask(api, credit_code)
    assert (await ask(api, credit_code)).status_code == 202
    messages = await sent_to(simulators, credit_code)
    assert len(messages) == 1
    assert (await present(api, credit_code, messages[0]["code"])).status_code == 201


async def test_five_wrong_codes_lock_the_credit_code_for_fifteen_minutes(
    api: httpx.AsyncClient, simulators: RunningSimulators, db_pool: asyncpg.Pool
) -> None:
    credit_code = supplier_credit_code()
    await ask(api, credit_code)
    code = await latest_code(simulators, credit_code)
    for _ in range(5):
        assert_problem(await present(api, credit_code, wrong(code)), 401, "unauthenticated")
    locked = await present(api, credit_code, code)
    assert_problem(locked, 429, "too_many_attempts")
    assert 14 * 60 < int(locked.headers["Retry-After"]) <= 15 * 60
    assert (await ask(api, credit_code)).status_code == 202  # still 202, but nothing is sent while locked
    assert len(await sent_to(simulators, credit_code)) == 1
    # fifteen minutes pass: the lock ends and the count starts afresh
    await db_pool.execute(
        "UPDATE supplier_login_guards SET locked_until = now() - interval '1 second' WHERE credit_code = $1",
        credit_code,
    )
    await db_pool.execute(
        "UPDATE supplier_login_codes SET created_at = created_at - interval '2 minutes' WHERE credit_code = $1",
        credit_code,
    )
    await ask(api, credit_code)
    fresh = await latest_code(simulators, credit_code)
    assert fresh != code or len(await sent_to(simulators, credit_code)) == 2
    assert (await present(api, credit_code, fresh)).status_code == 201


async def test_a_right_code_resets_the_count(api: httpx.AsyncClient, simulators: RunningSimulators) -> None:
    credit_code = supplier_credit_code()
    await ask(api, credit_code)
    code = await latest_code(simulators, credit_code)
    for _ in range(4):
        assert_problem(await present(api, credit_code, wrong(code)), 401, "unauthenticated")
    assert (await present(api, credit_code, code)).status_code == 201
    for _ in range(4):  # a new row of four: not locked
        assert_problem(await present(api, credit_code, wrong(code)), 401, "unauthenticated")


async def test_an_unknown_credit_code_is_locked_alike(api: httpx.AsyncClient) -> None:
    nobody = supplier_credit_code()
    for _ in range(5):
        assert_problem(await present(api, nobody, "123456"), 401, "unauthenticated")
    assert_problem(await present(api, nobody, "123456"), 429, "too_many_attempts")


async def test_malformed_sign_in_bodies_are_422_and_count_nothing(api: httpx.AsyncClient) -> None:
    credit_code = supplier_credit_code()
    for body in ({"credit_code": credit_code, "code": "12345"}, {"credit_code": credit_code, "code": "abcdef"}, {}):
        assert_problem(await api.post("/v1/supplier/sessions", json=body), 422, "validation_error")
    for _ in range(4):
        assert_problem(await present(api, credit_code, "123456"), 401, "unauthenticated")


async def test_an_sms_gateway_outage_is_503_and_keeps_no_code(
    api: httpx.AsyncClient, simulators: RunningSimulators, db_pool: asyncpg.Pool
) -> None:
    credit_code = supplier_credit_code()
    async with simulators.faults("sms", outage=True):
        down = await ask(api, credit_code)
    assert_problem(down, 503, "upstream_unavailable")
    assert down.headers["Retry-After"]
    assert await db_pool.fetchval("SELECT count(*) FROM supplier_login_codes WHERE credit_code = $1", credit_code) == 0
    assert (await ask(api, credit_code)).status_code == 202  # at once: the failed one did not count
    assert len(await sent_to(simulators, credit_code)) == 1


async def test_the_supplier_token_is_a_principal_of_its_own(
    api: httpx.AsyncClient, simulators: RunningSimulators, credentials: dict[str, Any]
) -> None:
    supplier = await sign_in(api, simulators, supplier_credit_code())
    for path in ("/v1/applications", "/v1/applications/x", "/v1/events", "/v1/stats", "/v1/ops/stuck"):
        assert_problem(await api.get(path, headers=supplier), 403, "forbidden")
    application = await api.post("/v1/applications", json={}, headers=supplier)
    assert application.status_code in (403, 422)
    assert_problem(
        await api.post("/v1/ops/applications/x/cancel", json={"reason": "x"}, headers=supplier), 403, "forbidden"
    )
    assert_problem(await api.post("/codec/encode", json={"payloads": []}, headers=supplier), 403, "forbidden")
    for key in (credentials["banks"]["ICBC"], credentials["ops"]):
        assert_problem(await api.post("/v1/supplier/sign-out", headers=bearer(key)), 403, "forbidden")
    assert_problem(await api.post("/v1/supplier/sign-out", headers=bearer("zcs_nothing")), 401, "unauthenticated")
    assert (await api.post("/v1/supplier/sign-out", headers=supplier)).status_code == 200
    assert_problem(await api.post("/v1/supplier/sign-out", headers=supplier), 401, "unauthenticated")


async def test_neither_the_code_nor_the_token_is_logged(api: httpx.AsyncClient, simulators: RunningSimulators):
    credit_code = supplier_credit_code()
    with structlog.testing.capture_logs() as lines:
        await ask(api, credit_code)
        code = await latest_code(simulators, credit_code)
        opened = await present(api, credit_code, code)
        token = opened.json()["token"]
        await api.post("/v1/supplier/sign-out", headers=bearer(token))
    assert lines, "nothing was logged at all"
    text = repr(lines)
    assert code not in text and token not in text


async def test_a_code_id_seen_by_the_gateway_before_does_not_block_a_new_code(
    api: httpx.AsyncClient, simulators: RunningSimulators, db_pool: asyncpg.Pool
) -> None:
    """A database restored from a backup (or a second one on the same gateway) hands out code ids
    the gateway has seen with other codes: the SMS must still go (its key is not the id alone)."""
    first, second = supplier_credit_code(), supplier_credit_code()
    assert (await ask(api, first)).status_code == 202
    code_id = await db_pool.fetchval("SELECT max(code_id) FROM supplier_login_codes WHERE credit_code = $1", first)
    await db_pool.execute("DELETE FROM supplier_login_codes WHERE code_id = $1", code_id)
    await db_pool.execute(f"ALTER TABLE supplier_login_codes ALTER COLUMN code_id RESTART WITH {int(code_id)}")
    again = await ask(api, second)
    assert again.status_code == 202, again.text
    assert await db_pool.fetchval("SELECT code_id FROM supplier_login_codes WHERE credit_code = $1", second) == code_id
    assert len(await sent_to(simulators, second)) == 1
