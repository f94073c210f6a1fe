"""docker-compose's `temporal-setup` job, run for real: its shell command (as Compose
normalises it, the `$$` turned back into `$`) against a fresh Temporal dev server with the same `temporal` CLI the
admin-tools image carries. It creates the namespace's search attributes, succeeds, and
succeeds again on a second `up`."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from local_stack.binaries import temporal_cli_path
from tests.fixtures import deployment_files as compose
from tests.fixtures.database import free_port
from workflows import search_attributes as sa

pytestmark = pytest.mark.e2e


@pytest.fixture
def fresh_temporal() -> Iterator[str]:
    port = free_port()
    server = subprocess.Popen(
        [temporal_cli_path(), "server", "start-dev", "--headless", "--ip", "127.0.0.1", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        yield f"127.0.0.1:{port}"
    finally:
        server.terminate()
        server.wait(timeout=30)


def _setup_command() -> str:
    service = compose.config()["services"]["temporal-setup"]
    assert service["entrypoint"] == ["sh", "-c"]
    return compose.shell_script(service["command"])


def test_the_setup_job_registers_the_search_attributes_and_can_run_again(fresh_temporal: str) -> None:
    env = {
        **os.environ,
        "TEMPORAL_ADDRESS": fresh_temporal,
        "PATH": f"{Path(temporal_cli_path()).parent}:{os.environ['PATH']}",
    }
    for run in (1, 2):
        job = subprocess.run(["sh", "-c", _setup_command()], env=env, capture_output=True, text=True, timeout=120)
        assert job.returncode == 0, f"run {run}: {job.stdout}\n{job.stderr}"
    listed = subprocess.run(
        [temporal_cli_path(), "operator", "search-attribute", "list", "--namespace", "default"],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    ).stdout
    for key in sa.ALL_KEYS:
        assert key.name in listed
