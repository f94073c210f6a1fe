"""Lists a bank's engineer expects: `updated_since` on applications, and `limit`/`cursor`
wherever a list answers `next_cursor` (here /v1/ops/stuck)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx

from store.applications import ApplicationRepository
from tests.api.test_problems import assert_problem, bearer
from tests.store.factories import make_view


async def test_updated_since_lists_what_changed_after(
    api: httpx.AsyncClient, credentials: dict[str, Any], db_pool: asyncpg.Pool
) -> None:
    applications = ApplicationRepository(db_pool)
    before = datetime.now(UTC) - timedelta(seconds=1)
    view = make_view(contract_no="WX-UPD-1")
    await applications.upsert_view(view, "submitted")
    bank = bearer(credentials["banks"]["ICBC"])
    listed = await api.get("/v1/applications", params={"updated_since": before.isoformat()}, headers=bank)
    assert view.application_id in [item["application_id"] for item in listed.json()["items"]]
    later = (datetime.now(UTC) + timedelta(minutes=1)).isoformat()
    none = await api.get("/v1/applications", params={"updated_since": later}, headers=bank)
    assert view.application_id not in [item["application_id"] for item in none.json()["items"]]
    for bad in ("0001-01-01T00:00:00+00:00", "2026-11-27T10:00:00", "yesterday"):
        assert_problem(
            await api.get("/v1/applications", params={"updated_since": bad}, headers=bank), 422, "validation_error"
        )


async def test_the_stuck_list_pages_with_a_signed_cursor(
    api: httpx.AsyncClient, credentials: dict[str, Any], db_pool: asyncpg.Pool
) -> None:
    applications = ApplicationRepository(db_pool)
    for n in range(5):
        await applications.upsert_view(
            make_view(f"stuck-page-{n}", needs_attention=True, attention_reasons=["x"]), "flagged"
        )
    ops = bearer(credentials["ops"])
    seen: list[str] = []
    cursor: str | None = None
    for _ in range(50):
        params: dict[str, Any] = {"limit": 2} | ({"cursor": cursor} if cursor else {})
        page = (await api.get("/v1/ops/stuck", params=params, headers=ops)).json()
        assert len(page["items"]) <= 2
        seen += [item["application_id"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == len(set(seen))
    assert {f"stuck-page-{n}" for n in range(5)} <= set(seen)
    assert_problem(await api.get("/v1/ops/stuck", params={"cursor": "forged.0"}, headers=ops), 422, "validation_error")
