"""The worker's Temporal SDK metrics: a client connected the way `zcd worker` connects (with
`worker_metrics_port` set) serves Prometheus text, and after a workflow with an activity has
run there, the workflow, activity, poller and slot series are on it.

The SDK runtime is process-wide per client, so this test makes its own (on a free port)
rather than touching the default runtime the other tests' clients share."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta

import httpx
from prometheus_client.parser import text_string_to_metric_families
from temporalio import activity, workflow
from temporalio.common import RetryPolicy
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from domain.settings import Settings
from runtime.temporal import connect, metrics_url, worker_runtime
from tests.fixtures.database import free_port


@activity.defn(name="metrics-probe-greet")
async def greet(name: str) -> str:
    return f"你好, {name}"


@activity.defn(name="metrics-probe-fail")
async def fail_once() -> None:
    if activity.info().attempt == 1:
        raise RuntimeError("first attempt fails on purpose")


@workflow.defn(name="metrics-probe", sandboxed=False)  # a probe: nothing to guard
class MetricsProbe:
    @workflow.run
    async def run(self, name: str) -> str:
        await workflow.execute_activity(
            fail_once,
            start_to_close_timeout=timedelta(seconds=10),
            retry_policy=RetryPolicy(initial_interval=timedelta(milliseconds=50)),
        )
        return await workflow.execute_activity(greet, name, start_to_close_timeout=timedelta(seconds=10))


def test_metrics_off_when_port_is_zero() -> None:
    settings = Settings(worker_metrics_port=0)
    assert worker_runtime(settings) is None and metrics_url(settings) is None


async def test_worker_serves_sdk_metrics(dev_server_env: WorkflowEnvironment) -> None:
    port = free_port()
    settings = Settings(
        temporal_address=dev_server_env.client.service_client.config.target_host,
        worker_metrics_host="127.0.0.1",
        worker_metrics_port=port,
    )
    url = metrics_url(settings)
    assert url == f"http://127.0.0.1:{port}/metrics"
    client = await connect(settings, runtime=worker_runtime(settings))
    queue = f"metrics-{uuid.uuid4().hex[:8]}"
    async with Worker(client, task_queue=queue, workflows=[MetricsProbe], activities=[greet, fail_once]):
        result = await client.execute_workflow(
            MetricsProbe.run, "无锡", id=f"metrics-probe-{uuid.uuid4().hex[:8]}", task_queue=queue
        )
        assert result == "你好, 无锡"
        names: set[str] = set()
        samples: dict[str, list[tuple[dict[str, str], float]]] = {}
        async with httpx.AsyncClient(timeout=5) as http:
            for _ in range(100):  # the exporter reflects what was recorded a moment later
                text = (await http.get(url)).text
                samples = {}
                for family in text_string_to_metric_families(text):
                    for sample in family.samples:
                        samples.setdefault(sample.name, []).append((dict(sample.labels), sample.value))
                names = set(samples)
                if "temporal_activity_execution_failed_total" in names and "temporal_workflow_completed_total" in names:
                    break
                await asyncio.sleep(0.1)
    expected = {
        "temporal_workflow_completed_total",
        "temporal_workflow_task_schedule_to_start_latency_bucket",
        "temporal_workflow_task_execution_latency_bucket",
        "temporal_activity_execution_latency_bucket",
        "temporal_activity_execution_failed_total",
        "temporal_worker_task_slots_available",
        "temporal_num_pollers",
    }
    assert expected <= names, sorted(names)
    failed = {labels["activity_type"]: value for labels, value in samples["temporal_activity_execution_failed_total"]}
    assert failed.get("metrics-probe-fail") == 1
    assert all(labels["task_queue"] == queue for labels, _ in samples["temporal_workflow_completed_total"])
