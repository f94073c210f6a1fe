"""The workflow tests' harness: a worker over mocked activities on the time-skipping server.

With `ZCD_RECORD_HISTORIES=<dir>` every financing a test starts leaves its history there —
how the replay suite's recordings of every path are made (see docs/versioning.md)."""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import AsyncIterator

import pytest
from temporalio.testing import WorkflowEnvironment

from tests.workflow.harness import FakeSystems, Harness, new_worker, record_histories


@pytest.fixture
async def h(time_skipping_env: WorkflowEnvironment, request: pytest.FixtureRequest) -> AsyncIterator[Harness]:
    fakes = FakeSystems()
    queue = f"financing-test-{uuid.uuid4().hex[:8]}"
    async with new_worker(time_skipping_env, fakes, queue):
        harness = Harness(time_skipping_env, fakes, queue)
        yield harness
        directory = os.environ.get("ZCD_RECORD_HISTORIES")
        if directory:
            await record_histories(harness, re.sub(r"[^A-Za-z0-9_-]+", "_", request.node.name), directory)
