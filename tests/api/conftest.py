"""An API over the module's real database, with no Temporal behind it (unit-level tests)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any, cast

import asyncpg
import httpx
import pytest
from temporalio.client import Client

from api.main import create_app
from domain.settings import Settings
from store.principals import ensure_credentials, generate_credentials


class NoTemporal:
    """Stands in for the Temporal client where a test must never reach it."""

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"Temporal was used: {name}")


@pytest.fixture(scope="module")
async def credentials(db_pool: asyncpg.Pool) -> dict[str, Any]:
    keys = generate_credentials(["ICBC", "ABC"])
    await ensure_credentials(db_pool, keys)
    return keys


@pytest.fixture
def api_settings(database_url: str, credentials: dict[str, Any]) -> Settings:
    return Settings(
        database_url=database_url,
        treasury_secret=credentials["treasury_secret"],
        procurement_secret=credentials["procurement_secret"],
    )


@pytest.fixture
async def api(db_pool: asyncpg.Pool, api_settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(api_settings, pool=db_pool, temporal_client=cast(Client, NoTemporal()))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://api") as client:
            yield client
