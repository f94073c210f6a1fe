"""`serve` runs the API on its configured port, with its own pool and Temporal connection."""

from __future__ import annotations

import asyncio
import contextlib

import httpx
import pytest
from temporalio.testing import WorkflowEnvironment

from api.main import serve
from domain.settings import Settings
from tests.fixtures.database import free_port

pytestmark = pytest.mark.e2e


async def test_serve_answers_ready(dev_server_env: WorkflowEnvironment, database_url: str) -> None:
    port = free_port()
    settings = Settings(
        database_url=database_url,
        api_port=port,
        temporal_address=dev_server_env.client.service_client.config.target_host,
        log_format="json",
    )
    task = asyncio.create_task(serve(settings))
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
            for _ in range(100):
                with contextlib.suppress(httpx.TransportError):
                    response = await http.get("/readyz")
                    if response.status_code == 200:
                        break
                await asyncio.sleep(0.1)
            assert response.json()["checks"] == {"database": "ok", "temporal": "ok"}
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait_for(task, timeout=10)
