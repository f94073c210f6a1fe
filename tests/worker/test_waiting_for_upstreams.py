"""A worker started while Temporal or PostgreSQL is down waits for it — retrying with
backoff, each attempt logged with its error — and polls its task queue once it is up."""

from __future__ import annotations

import asyncio
import contextlib

from structlog.testing import capture_logs
from temporalio.api.enums.v1 import TaskQueueType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from domain.settings import Settings
from tests.fixtures.database import free_port
from tests.fixtures.simulators import unique
from tests.fixtures.upstreams import dev_server_on, failed_attempts, late_postgres, until
from worker.main import serve


async def pollers(client: Client, task_queue: str) -> int:
    described = await client.workflow_service.describe_task_queue(
        DescribeTaskQueueRequest(
            namespace=client.namespace,
            task_queue=TaskQueue(name=task_queue),
            task_queue_type=TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
        )
    )
    return len(described.pollers)


async def polls_eventually(client: Client, task_queue: str) -> None:
    counted = 0
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 30
    while counted == 0:
        assert loop.time() < deadline, f"no worker polls {task_queue}"
        counted = await pollers(client, task_queue)
        if counted == 0:
            await asyncio.sleep(0.1)


async def stopped(task: asyncio.Task[None], stop: asyncio.Event) -> None:
    stop.set()
    try:
        await asyncio.wait_for(task, timeout=30)
    finally:
        if not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


async def test_a_worker_started_before_temporal_waits_then_polls(database_url: str) -> None:
    port = free_port()  # nothing listens here until the dev server starts below
    settings = Settings(
        temporal_address=f"127.0.0.1:{port}", database_url=database_url, worker_metrics_port=0, task_queue=unique("q")
    )
    stop, running = asyncio.Event(), asyncio.Event()
    with capture_logs() as logs:
        task = asyncio.create_task(serve(settings, database_url, stop, running))
        try:
            await until(lambda: len(failed_attempts(logs, "temporal")) >= 2, within=10, what="two failed attempts")
            assert not task.done(), "the worker exited instead of waiting"
            assert not running.is_set()
            first, second = failed_attempts(logs, "temporal")[:2]
            assert (first["attempt"], second["attempt"]) == (1, 2)
            assert "refused" in first["error"].lower()
            assert second["retry_in_seconds"] > first["retry_in_seconds"]  # backing off
            async with dev_server_on(port) as env:
                await asyncio.wait_for(running.wait(), timeout=30)
                await polls_eventually(env.client, settings.task_queue)
                await stopped(task, stop)
        finally:
            if not task.done():
                task.cancel()
    assert any(e["event"] == "upstream_connected" and e["upstream"] == "temporal" for e in logs)


async def test_a_worker_started_before_postgresql_waits_then_polls(dev_server_env: WorkflowEnvironment) -> None:
    client = dev_server_env.client
    async with late_postgres() as pg:
        settings = Settings(
            temporal_address=client.service_client.config.target_host,
            database_url=pg.url,
            worker_metrics_port=0,
            task_queue=unique("q"),
        )
        stop, running = asyncio.Event(), asyncio.Event()
        with capture_logs() as logs:
            task = asyncio.create_task(serve(settings, pg.url, stop, running))
            try:
                await until(lambda: len(failed_attempts(logs, "postgresql")) >= 2, within=10, what="two attempts")
                assert not task.done(), "the worker exited instead of waiting"
                assert not running.is_set()
                assert await pollers(client, settings.task_queue) == 0
                await pg.start()
                await asyncio.wait_for(running.wait(), timeout=30)
                await polls_eventually(client, settings.task_queue)
                await stopped(task, stop)
            finally:
                if not task.done():
                    task.cancel()
