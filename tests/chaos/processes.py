"""The parts of the platform as OS processes the chaos run owns: start, SIGKILL, stop, restart.

Each part runs in a session of its own (a Ctrl-C in the terminal reaches the harness, which
stops them in order) and asks the kernel to SIGKILL it should the harness die without stopping
it (PR_SET_PDEATHSIG), so no run leaves a server behind on its ports. Output goes to one log
per part, appended across restarts: the leak check reads every line any incarnation wrote.

A part that exits without being told to is a finding (`crashes`) — issue 9 asks parts to wait
for each other rather than exit — and, like a process manager would, the supervisor starts it
again after a pause, so one crash does not end the run.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import os
import signal
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

_PR_SET_PDEATHSIG = 1
RESTART_PAUSE_SECONDS = 1.0  # before a crashed part is started again
STOP_PATIENCE_SECONDS = 15.0  # a graceful stop; then SIGKILL

Probe = Callable[[], Awaitable[bool]]


def _dies_with_harness() -> Any:
    """Run in the child before exec: SIGKILL it when the harness (its parent) dies."""
    if sys.platform != "linux":
        return None
    prctl = ctypes.CDLL(None, use_errno=True).prctl
    harness = os.getpid()

    def arrange() -> None:
        prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL))
        if os.getppid() != harness:  # the harness died before the request took effect
            os._exit(1)

    return arrange


@dataclass
class Crash:
    part: str
    exit_code: int
    at: float  # seconds since the run started
    last_lines: str


@dataclass
class Part:
    """One process of the platform, started again and again with the same command line."""

    name: str
    argv: list[str]
    env: dict[str, str]
    log_path: Path
    ready: Probe
    stop_signal: signal.Signals = signal.SIGTERM
    cwd: Path = Path(__file__).resolve().parents[2]  # the repository; PostgreSQL's is "/"
    process: subprocess.Popen[bytes] | None = None
    wanted: bool = False  # should be running: an exit while wanted is a crash
    starts: int = 0
    _log: IO[bytes] | None = None

    def spawn(self) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = self.log_path.open("ab")
        self._log.write(f"\n---- chaos: start {self.starts + 1} of {self.name} ----\n".encode())
        self._log.flush()
        self.process = subprocess.Popen(
            self.argv,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env=self.env,
            cwd=str(self.cwd),
            start_new_session=True,
            preexec_fn=_dies_with_harness(),
        )
        self.starts += 1
        self.wanted = True

    @property
    def exited(self) -> int | None:
        return None if self.process is None else self.process.poll()

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def tail(self, lines: int = 15) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    async def wait_ready(self, within: float) -> None:
        deadline = time.monotonic() + within
        while True:
            code = self.exited
            if code is not None:
                raise RuntimeError(f"{self.name} exited with {code} while starting:\n{self.tail()}")
            with contextlib.suppress(Exception):
                if await self.ready():
                    return
            if time.monotonic() > deadline:
                raise RuntimeError(f"{self.name} was not ready within {within:.0f} s:\n{self.tail()}")
            await asyncio.sleep(0.2)  # polling readiness with a deadline

    async def kill(self) -> None:
        """SIGKILL: no goodbye, as a crashed machine or an OOM kill gives none."""
        self.wanted = False
        if self.process is not None and self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                self.process.kill()
        await self._reaped(5.0)

    async def stop(self, sig: signal.Signals | None = None) -> None:
        """The part's own graceful stop (or `sig`), then SIGKILL if it will not go."""
        self.wanted = False
        if self.process is not None and self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                self.process.send_signal(sig or self.stop_signal)
            if not await self._reaped(STOP_PATIENCE_SECONDS):
                with contextlib.suppress(ProcessLookupError):
                    self.process.kill()
        await self._reaped(5.0)

    async def _reaped(self, within: float) -> bool:
        deadline = time.monotonic() + within
        while self.process is not None and self.process.poll() is None:
            if time.monotonic() > deadline:
                return False
            await asyncio.sleep(0.05)
        if self._log is not None:
            self._log.close()
            self._log = None
        return True


@dataclass
class Supervisor:
    """Owns every part; restarts a part that crashed; stops them all, newest first."""

    started_at: float = field(default_factory=time.monotonic)
    parts: dict[str, Part] = field(default_factory=dict)
    crashes: list[Crash] = field(default_factory=list)
    _watching: asyncio.Task[None] | None = None
    _restarts: list[asyncio.Task[None]] = field(default_factory=list)

    def add(self, part: Part) -> Part:
        self.parts[part.name] = part
        return part

    async def start(self, name: str, within: float = 60.0) -> None:
        part = self.parts[name]
        part.spawn()
        await part.wait_ready(within)

    def watch(self) -> None:
        self._watching = asyncio.create_task(self._watch(), name="chaos-supervisor")

    async def _watch(self) -> None:
        while True:
            for part in list(self.parts.values()):
                code = part.exited
                if part.wanted and code is not None:
                    part.wanted = False
                    self.crashes.append(Crash(part.name, code, time.monotonic() - self.started_at, part.tail()))
                    self._restarts.append(asyncio.create_task(self._restart_later(part)))
            await asyncio.sleep(0.25)  # a process manager's check interval

    async def _restart_later(self, part: Part) -> None:
        await asyncio.sleep(RESTART_PAUSE_SECONDS)  # a process manager's restart back-off
        if not part.wanted and not part.running():
            part.spawn()

    async def stop_all(self) -> None:
        if self._watching is not None:
            self._watching.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watching
        for part in reversed(list(self.parts.values())):
            await part.stop()

    def kill_everything_now(self) -> None:
        """The last resort on the way out (also from a signal handler): no waiting."""
        for part in self.parts.values():
            part.wanted = False
            if part.process is not None and part.process.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    part.process.kill()
