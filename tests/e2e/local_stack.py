"""Start the platform exactly as `make run` does — `zcd run` as its own process — in a temporary
data directory on free ports, and stop it with Ctrl-C (SIGINT).

`LocalStack.start()` waits for `.zcd/dev.json` (written only once every part answers) and
returns it; `LocalStack.interrupt()` sends SIGINT and reports every process the stack had
started that is still alive afterwards, so a test can assert that nothing is left behind.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil

from tests.fixtures.database import free_port

REPO = Path(__file__).resolve().parents[2]


def stack_environment(root: Path) -> dict[str, str]:
    """Every port the stack opens, chosen free, and the data directory under `root`."""
    names = ("api", "temporal", "ui", "ui_backend", "db", "metrics", "procurement", "bank", "treasury", "sms")
    ports = {name: free_port() for name in names}
    env = {
        key: value
        for key, value in os.environ.items()
        # a developer's own settings must not leak into the stack under test
        if not key.startswith("ZCD_") and key != "DATABASE_URL"
    }
    env.update(
        {
            "ZCD_DATA_DIR": str(root / ".zcd"),
            "ZCD_LOG_FORMAT": "json",
            "ZCD_API_PORT": str(ports["api"]),
            "ZCD_API_URL": f"http://127.0.0.1:{ports['api']}",
            "ZCD_TEMPORAL_ADDRESS": f"127.0.0.1:{ports['temporal']}",
            "ZCD_TEMPORAL_UI_PORT": str(ports["ui"]),
            "ZCD_TEMPORAL_UI_BACKEND_PORT": str(ports["ui_backend"]),
            "ZCD_CODEC_CORS_ORIGIN": f"http://127.0.0.1:{ports['ui']}",
            "ZCD_DATABASE_PORT": str(ports["db"]),
            "ZCD_WORKER_METRICS_PORT": str(ports["metrics"]),
        }
    )
    for system in ("procurement", "bank", "treasury", "sms"):
        env[f"ZCD_{system.upper()}_PORT"] = str(ports[system])
        env[f"ZCD_{system.upper()}_URL"] = f"http://127.0.0.1:{ports[system]}"
    return env


@dataclass
class LocalStack:
    root: Path
    env: dict[str, str]
    process: subprocess.Popen[bytes] | None = None
    # pid -> (start time, command line) of everything it started; the start time tells a
    # reused pid from ours
    seen: dict[int, tuple[float, str]] = field(default_factory=dict)
    runs: int = 0

    @classmethod
    def in_temporary_directory(cls) -> LocalStack:
        root = Path(tempfile.mkdtemp(prefix="zcd-local-stack-"))
        return cls(root=root, env=stack_environment(root))

    @property
    def data_dir(self) -> Path:
        return Path(self.env["ZCD_DATA_DIR"])

    @property
    def output_path(self) -> Path:
        return self.root / f"zcd-run-{self.runs}.out"

    def output(self) -> str:
        return self.output_path.read_text(errors="replace") if self.output_path.exists() else ""

    def zcd(self, *args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
        """Another `zcd` subcommand (e.g. `demo`) against this stack, with its settings."""
        return subprocess.run(
            [sys.executable, "-m", "cli.main", *args],
            cwd=self.root,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def start(self, within: float = 180) -> dict[str, Any]:
        """`zcd run` from the stack's directory; returns dev.json once it exists."""
        self.runs += 1
        handoff = self.data_dir / "dev.json"
        with self.output_path.open("wb") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "cli.main", "run"],
                cwd=self.root,
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + within
        while not handoff.exists():
            if self.process.poll() is not None:
                raise AssertionError(f"zcd run exited with {self.process.returncode}:\n{self.output()}")
            if time.monotonic() > deadline:
                self.interrupt()
                raise AssertionError(f"no dev.json within {within:.0f} s:\n{self.output()}")
            time.sleep(0.2)  # polling for a file another process writes, not hiding a race
        self.remember_children()
        return dict(json.loads(handoff.read_text()))

    def remember_children(self) -> None:
        assert self.process is not None
        for child in psutil.Process(self.process.pid).children(recursive=True):
            try:
                self.seen[child.pid] = (child.create_time(), " ".join(child.cmdline()))
            except psutil.NoSuchProcess:
                continue

    def interrupt(self, within: float = 60) -> int:
        """Ctrl-C: SIGINT to `zcd run`; returns its exit code once it has stopped."""
        assert self.process is not None
        self.remember_children()
        self.process.send_signal(signal.SIGINT)
        try:
            code = self.process.wait(timeout=within)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise AssertionError(f"zcd run did not stop within {within:.0f} s after SIGINT:\n{self.output()}") from None
        self.process = None
        return code

    def left_running(self, within: float = 10) -> dict[int, str]:
        """Processes the stack started that are still alive (zombies count as gone)."""
        deadline = time.monotonic() + within
        while True:
            alive = {pid: cmd for pid, (started, cmd) in self.seen.items() if _alive(pid, started)}
            if not alive or time.monotonic() > deadline:
                return alive
            time.sleep(0.2)

    def remove(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.interrupt()
        for pid in self.left_running(within=0):
            try:
                psutil.Process(pid).kill()
            except psutil.NoSuchProcess:
                pass
        shutil.rmtree(self.root, ignore_errors=True)


def _alive(pid: int, started: float) -> bool:
    try:
        process = psutil.Process(pid)
        return process.create_time() == started and process.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False
