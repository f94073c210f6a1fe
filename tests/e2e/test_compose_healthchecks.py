"""docker-compose's worker healthcheck, run for real: its command (from the normalised
config, with the port from the container's own ZCD_WORKER_METRICS_PORT) against a process
whose SDK runtime serves metrics. It fails while nothing polls (the endpoint answers, empty,
from the moment the process starts) and passes once a worker runs on the dev server."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid

import pytest
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from domain.settings import Settings
from runtime.temporal import connect, worker_runtime
from tests.fixtures import deployment_files as compose
from tests.fixtures.database import free_port
from workflows.financing import FinancingWorkflow

pytestmark = pytest.mark.e2e


async def _healthcheck(port: int) -> int:
    test = compose.config()["services"]["worker"]["healthcheck"]["test"]
    assert test[:2] == ["CMD", "python"]
    env = {**os.environ, "ZCD_WORKER_METRICS_PORT": str(port)}
    done = await asyncio.to_thread(
        subprocess.run, [sys.executable, *test[2:]], env=env, capture_output=True, timeout=30
    )
    return done.returncode


async def test_the_worker_is_healthy_once_it_polls_not_before(dev_server_env: WorkflowEnvironment) -> None:
    port = free_port()
    settings = Settings(
        temporal_address=dev_server_env.client.service_client.config.target_host,
        worker_metrics_host="127.0.0.1",
        worker_metrics_port=port,
    )
    runtime = worker_runtime(settings)
    assert await _healthcheck(port) != 0  # the endpoint answers, but no worker runs
    client = await connect(settings, runtime=runtime)
    assert await _healthcheck(port) != 0  # connected, still not polling
    queue = f"healthcheck-{uuid.uuid4().hex[:8]}"
    async with Worker(client, task_queue=queue, workflows=[FinancingWorkflow]):
        for _ in range(100):  # the exporter shows what was recorded a moment later
            if await _healthcheck(port) == 0:
                break
            await asyncio.sleep(0.1)
        else:
            pytest.fail("the worker's healthcheck never passed while it polled")
