"""Every authenticated action is audited, reads included, and each answer carries a request id."""

from __future__ import annotations

from typing import Any

import asyncpg
import httpx

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
