"""Run the simulated systems in one process (the local stack's `zcd simulators`, and `make
run`): procurement, bank, treasury and the SMS gateway on `settings.simulators_host` and their
ports.

The listening sockets are bound before any server starts, so a busy port is a clear
`OSError` at once (rather than uvicorn's `sys.exit` inside a task), and a client may connect
as soon as this returns its sockets. Signals are left to the caller: cancelling
`serve_simulators` stops the servers cleanly.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import socket
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import structlog
import uvicorn
from fastapi import FastAPI

from domain.settings import Settings
from simulators.bank import create_bank_app
from simulators.procurement import create_procurement_app
from simulators.sms import create_sms_app
from simulators.treasury import create_treasury_app

log = structlog.get_logger("simulators")

STARTUP_TIMEOUT_SECONDS = 10.0


@dataclass(frozen=True)
class SimulatorService:
    name: str
    app: FastAPI
    sock: socket.socket

    @property
    def port(self) -> int:
        return int(self.sock.getsockname()[1])


class _Server(uvicorn.Server):
    """uvicorn without its signal handlers: several servers share a process (and a test's
    event loop), so the process owner decides when they stop."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def bind_socket(host: str, port: int) -> socket.socket:
    """A listening TCP socket; port 0 picks a free one."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        # Accepted connections inherit it; without it each answer waits ~40 ms for a delayed ACK.
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.bind((host, port))
        sock.listen(128)
    except OSError:
        sock.close()
        raise
    return sock


def state_files(data_dir: Path | None) -> dict[str, Path | None]:
    names = ("procurement", "bank", "treasury", "bank-book", "sms")
    return {name: (data_dir / "simulators" / f"{name}.json" if data_dir else None) for name in names}


def build_apps(settings: Settings, data_dir: Path | None) -> dict[str, FastAPI]:
    files = state_files(data_dir)
    return {
        "procurement": create_procurement_app(settings, files["procurement"]),
        "bank": create_bank_app(settings, files["bank"], book_file=files["bank-book"]),
        "treasury": create_treasury_app(settings, files["treasury"]),
        "sms": create_sms_app(settings, files["sms"]),
    }


@contextlib.asynccontextmanager
async def running(services: list[SimulatorService]) -> AsyncIterator[None]:
    """Serve each app on its socket until the block ends (or is cancelled)."""
    servers = [
        _Server(uvicorn.Config(s.app, log_config=None, access_log=False, timeout_graceful_shutdown=5)) for s in services
    ]
    tasks = [
        asyncio.create_task(server.serve(sockets=[s.sock]), name=f"simulator-{s.name}")
        for server, s in zip(servers, services, strict=True)
    ]
    # what an app runs beside its server (the bank's feed follower), once the servers answer
    background: list[asyncio.Task[None]] = []
    try:
        await _started(servers, tasks)
        for s in services:
            log.info("simulator.started", system=s.name, port=s.port)
        background = [
            asyncio.create_task(job(), name=f"simulator-{s.name}-background")
            for s in services
            for job in getattr(s.app.state, "background", [])
        ]
        yield
    finally:
        for job in background:
            job.cancel()
        await asyncio.gather(*background, return_exceptions=True)
        for server in servers:
            server.should_exit = True
        await asyncio.gather(*tasks, return_exceptions=True)
        for s in services:
            for close in getattr(s.app.state, "closing", []):
                await close()
            s.sock.close()
        log.info("simulators.stopped")


async def _started(servers: list[_Server], tasks: list[asyncio.Task[None]]) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + STARTUP_TIMEOUT_SECONDS
    while not all(server.started for server in servers):
        failed = next((t for t in tasks if t.done()), None)
        if failed is not None:
            raise RuntimeError(f"{failed.get_name()} stopped while starting") from failed.exception()
        if loop.time() > deadline:
            raise TimeoutError("the simulators did not start in time")
        await asyncio.sleep(0.01)


async def serve_simulators(settings: Settings, data_dir: Path | None) -> None:
    """Serve the simulators until cancelled; state persists under `data_dir` when given."""
    apps = build_apps(settings, data_dir)
    ports = {
        "procurement": settings.procurement_port,
        "bank": settings.bank_port,
        "treasury": settings.treasury_port,
        "sms": settings.sms_port,
    }
    services: list[SimulatorService] = []
    try:
        for name, app in apps.items():
            services.append(SimulatorService(name, app, bind_socket(settings.simulators_host, ports[name])))
    except OSError:
        for s in services:
            s.sock.close()
        raise
    async with running(services):
        await asyncio.Event().wait()


async def serve_until_stopped(settings: Settings, data_dir: Path | None) -> None:
    """`zcd simulators`: serve until SIGTERM (how `zcd run` stops its children) or SIGINT, then
    finish the requests in hand and stop, rather than die where a signal happens to land."""
    serving = asyncio.ensure_future(serve_simulators(settings, data_dir))
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, serving.cancel)
    with contextlib.suppress(asyncio.CancelledError):
        await serving
