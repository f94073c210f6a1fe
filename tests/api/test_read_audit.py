"""Every authenticated action is audited, reads included, and each answer carries a request id."""

from __future__ import annotations

from typing import Any

import asyncpg
import httpx
import pytest

from store.audit import AuditTrail


async def test_an_authenticated_read_leaves_an_audit_row(
    api: httpx.AsyncClient, credentials: dict[str, Any], db_pool: asyncpg.Pool
) -> None:
    ops = {"Authorization": f"Bearer {credentials['ops']}", "X-Request-Id": "req-read-audit-1"}
    answer = await api.get("/v1/ops/payments", headers=ops)
    assert answer.status_code == 200 and answer.headers["x-request-id"] == "req-read-audit-1"
    async with db_pool.acquire() as connection:
        actions = await connection.fetch(
            "SELECT actor, action FROM audit_log WHERE action = 'read /v1/ops/payments' ORDER BY seq DESC LIMIT 1"
        )
    assert actions and actions[0]["actor"].startswith("ops")
    assert await AuditTrail(db_pool).verify()


async def test_an_unauthenticated_read_is_not_audited_but_has_a_request_id(api: httpx.AsyncClient) -> None:
    answer = await api.get("/v1/ops/stuck")
    assert answer.status_code == 401 and answer.headers["x-request-id"]


async def _feed_reads(db_pool: asyncpg.Pool) -> int:
    count: int = await db_pool.fetchval("SELECT count(*) FROM audit_log WHERE action = 'read /v1/events'")
    return count


async def test_a_feed_poll_is_audited_when_it_disclosed_events_only(
    api: httpx.AsyncClient, credentials: dict[str, Any], db_pool: asyncpg.Pool
) -> None:
    ops = {"Authorization": f"Bearer {credentials['ops']}"}
    await db_pool.execute(
        "INSERT INTO events (type, application_id, contract_no, bank_code, at, data) "
        "VALUES ('application.submitted', 'feed-audit-1', 'WX-FEED-AUDIT', 'ICBC', now(), '{}'::jsonb)"
    )
    before = await _feed_reads(db_pool)
    page = await api.get("/v1/events", params={"limit": 500}, headers=ops)
    assert page.status_code == 200 and page.json()["items"]
    assert await _feed_reads(db_pool) == before + 1
    cursor = page.json()["next_cursor"]
    while (page := await api.get("/v1/events", params={"after": cursor, "limit": 500}, headers=ops)).json()["items"]:
        cursor = page.json()["next_cursor"]
    polled = await _feed_reads(db_pool)
    empty = await api.get("/v1/events", params={"after": cursor}, headers=ops)
    assert empty.status_code == 200 and empty.json()["items"] == []
    assert await _feed_reads(db_pool) == polled  # an empty poll disclosed nothing: no row


async def test_a_read_whose_audit_row_cannot_be_written_is_not_answered(
    api: httpx.AsyncClient, credentials: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    async def refused(*_: object, **__: object) -> None:
        raise asyncpg.exceptions.ConnectionDoesNotExistError("the database went away")

    monkeypatch.setattr(AuditTrail, "append", refused)
    ops = {"Authorization": f"Bearer {credentials['ops']}", "X-Request-Id": "req-read-audit-lost"}
    answer = await api.get("/v1/ops/payments", headers=ops)
    assert answer.status_code == 503
    assert answer.json()["code"] == "upstream_unavailable" and "items" not in answer.json()
    assert answer.headers["x-request-id"] == "req-read-audit-lost"
