"""`make run` with a `DATABASE_URL` uses that PostgreSQL instead of starting the embedded one
(issue 4: "a given DATABASE_URL is used instead"), and the platform works on it."""

from __future__ import annotations

import asyncpg
import httpx
import pytest

from tests.e2e.local_stack import LocalStack

pytestmark = pytest.mark.e2e


async def test_a_given_database_url_is_used_and_no_embedded_server_starts(empty_database_url: str) -> None:
    stack = LocalStack.in_temporary_directory()
    stack.env["DATABASE_URL"] = empty_database_url  # an empty database: zcd run migrates and seeds it
    try:
        dev = stack.start()  # blocks this test's loop while it waits; nothing else runs on it
        assert dev["database_url"] == empty_database_url
        assert not (stack.data_dir / "postgres").exists()
        assert not [cmd for cmd in stack.seen.values() if "embedded_postgres" in cmd[1]]
        ops = {"Authorization": f"Bearer {dev['credentials']['ops']}"}
        async with httpx.AsyncClient(base_url=dev["api"], timeout=10) as http:
            assert (await http.get("/readyz")).status_code == 200
            stats = await http.get("/v1/stats", headers=ops)
            assert stats.status_code == 200, stats.text
        connection = await asyncpg.connect(empty_database_url)
        try:
            banks = await connection.fetchval("SELECT count(*) FROM banks")
        finally:
            await connection.close()
        assert banks == len(dev["credentials"]["banks"]) == 23
        assert stack.interrupt() == 0, stack.output()
        assert stack.left_running() == {}
    finally:
        stack.remove()
