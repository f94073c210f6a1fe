"""The whole platform, every part its own OS process on free ports, as the chaos run needs it.

PostgreSQL from the embedded wheel, the Temporal dev server on a SQLite *file* (so a restart
finds its workflows again), the simulators, the API and two workers — started with the
environment `zcd run` gives them (local_stack/supervisor.py), but each separately, so that each can be
killed and started again on its own. Credentials and the payload key are generated per run.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from temporalio.client import Client

from local_stack import postgres as embedded
from local_stack.binaries import temporal_cli_path
from runtime.codec import EncryptionCodec
from store.db import create_pool
from store.migrate import migrate
from store.principals import ensure_credentials, generate_credentials
from store.seed import WUXI_BANKS
from tests.chaos.processes import Part, Probe, Supervisor
from tests.fixtures.database import free_port
from workflows import search_attributes as sa

WORKERS = ("worker-1", "worker-2")
SIMULATED_SYSTEMS = ("procurement", "bank", "treasury", "sms")
REPOSITORY = Path(__file__).resolve().parents[2]
# the product's packages, copied once per run: every restart of every part runs the code the
# run started with (edits made to the tree meanwhile would otherwise reach workflows in flight
# through a restarted worker and fail them as non-deterministic — a deployment, not a fault)
PRODUCT_PACKAGES = (
    "domain",
    "workflows",
    "activities",
    "integrations",
    "store",
    "api",
    "worker",
    "simulators",
    "runtime",
    "cli",
    "local_stack",
    "demo",
)
CODEC_KEY_ID = "chaos1"
LOOPBACK = "127.0.0.1"
# the API re-signals recorded notices that did not reach a workflow; its default (15 s) is for
# production, a run of minutes wants the redelivery to show within it
REDELIVERY_SECONDS = "3"
START_WITHIN_SECONDS = 90.0


@dataclass(frozen=True)
class Ports:
    postgres: int
    temporal: int
    api: int
    procurement: int
    bank: int
    treasury: int
    sms: int

    @classmethod
    def free(cls) -> Ports:
        return cls(*(free_port() for _ in range(7)))


@dataclass
class Cluster:
    root: Path
    ports: Ports
    credentials: dict[str, Any]
    codec_keys: str
    supervisor: Supervisor = field(default_factory=Supervisor)

    # ---- where things are -------------------------------------------------------------

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    @property
    def database_url(self) -> str:
        return embedded.database_url(self.ports.postgres, "zcd")

    @property
    def temporal_address(self) -> str:
        return f"{LOOPBACK}:{self.ports.temporal}"

    @property
    def api_url(self) -> str:
        return f"http://{LOOPBACK}:{self.ports.api}"

    def simulator_url(self, system: str) -> str:
        return f"http://{LOOPBACK}:{getattr(self.ports, system)}"

    def handoff(self) -> dict[str, Any]:
        """What `zcd run` would write to dev.json: the drivers use only this."""
        return {
            "api": self.api_url,
            "temporal": self.temporal_address,
            "database_url": self.database_url,
            "simulators": {s: self.simulator_url(s) for s in SIMULATED_SYSTEMS},
            "credentials": self.credentials,
        }

    def secrets(self) -> dict[str, str]:
        """Everything that must never appear in a log, by a name that may (never the value)."""
        found = {f"bank key {code}": key for code, key in self.credentials["banks"].items()}
        found["ops key"] = self.credentials["ops"]
        found["treasury secret"] = self.credentials["treasury_secret"]
        found["procurement secret"] = self.credentials["procurement_secret"]
        found["payload codec key"] = self.codec_keys.split(":", 1)[1]
        return found

    # ---- building it --------------------------------------------------------------------

    @property
    def code(self) -> Path:
        return self.root / "code"

    @classmethod
    def new(cls, root: Path) -> Cluster:
        creds = generate_credentials([b.bank_code for b in WUXI_BANKS])
        cluster = cls(root, Ports.free(), creds, f"{CODEC_KEY_ID}:{EncryptionCodec.new_key()}")
        for package in PRODUCT_PACKAGES:
            shutil.copytree(REPOSITORY / package, cluster.code / package, ignore=shutil.ignore_patterns("__pycache__"))
        return cluster

    def environment(self) -> dict[str, str]:
        """The platform's settings for every part; a developer's own ZCD_* never leaks in."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("ZCD_") and k != "DATABASE_URL"}
        env.update(
            {
                "PYTHONUNBUFFERED": "1",  # a SIGKILLed part keeps every line it logged
                "DATABASE_URL": self.database_url,
                "ZCD_TEMPORAL_ADDRESS": self.temporal_address,
                "ZCD_API_HOST": LOOPBACK,
                "ZCD_API_PORT": str(self.ports.api),
                "ZCD_API_URL": self.api_url,
                "ZCD_SIMULATORS_HOST": LOOPBACK,
                "ZCD_TREASURY_SECRET": self.credentials["treasury_secret"],
                "ZCD_PROCUREMENT_SECRET": self.credentials["procurement_secret"],
                "ZCD_CODEC_KEYS": self.codec_keys,
                "ZCD_DATA_DIR": str(self.root / "data"),
                "ZCD_LOG_FORMAT": "json",
                "ZCD_WORKER_METRICS_PORT": "0",  # two workers on one host: no shared metrics port
                "ZCD_REDELIVERY_INTERVAL_SECONDS": REDELIVERY_SECONDS,
            }
        )
        for system in SIMULATED_SYSTEMS:
            env[f"ZCD_{system.upper()}_PORT"] = str(getattr(self.ports, system))
            env[f"ZCD_{system.upper()}_URL"] = self.simulator_url(system)
        return env

    def _zcd(self, name: str, command: str, ready: Probe) -> Part:
        argv = [sys.executable, "-m", "cli.main", command]
        # `-m` from the snapshot: its packages come first on sys.path, before the editable install
        return Part(name, argv, self.environment(), self.logs / f"{name}.log", ready, cwd=self.code)

    async def start(self) -> None:
        """Every part, in the order they need each other; the supervisor watches them after."""
        sup = self.supervisor
        pg_dir = self.root / "postgres"
        await asyncio.to_thread(embedded.ensure_initialised, pg_dir)
        argv = embedded.postgres_command(
            pg_dir, self.ports.postgres, settings=embedded.NON_DURABLE_SETTINGS, die_with_parent=True
        )
        postgres = Part("postgres", argv, dict(os.environ), self.logs / "postgres.log", self._postgres_ready)
        postgres.stop_signal = signal.SIGINT  # PostgreSQL's fast shutdown
        postgres.cwd = Path("/")  # the server account may not enter the repository
        sup.add(postgres)
        await sup.start("postgres", START_WITHIN_SECONDS)
        await embedded.ensure_database(self.ports.postgres, "zcd")
        pool = await create_pool(self.database_url)
        try:
            await migrate(pool)
            await ensure_credentials(pool, {"banks": self.credentials["banks"], "ops": self.credentials["ops"]})
        finally:
            await pool.close()

        temporal = [
            temporal_cli_path(),
            "server",
            "start-dev",
            "--ip",
            LOOPBACK,
            "--port",
            str(self.ports.temporal),
            "--headless",
            "--db-filename",
            str(self.root / "temporal.db"),
            "--namespace",
            "default",
            "--log-level",
            "warn",
            *sa.cli_flags(),
        ]
        sup.add(Part("temporal", temporal, dict(os.environ), self.logs / "temporal.log", self._temporal_ready))
        await sup.start("temporal", START_WITHIN_SECONDS)

        sup.add(self._zcd("simulators", "simulators", self._simulators_ready))
        await sup.start("simulators", START_WITHIN_SECONDS)
        sup.add(self._zcd("api", "api", self._api_ready))
        await sup.start("api", START_WITHIN_SECONDS)
        for name in WORKERS:
            sup.add(self._zcd(name, "worker", self._worker_ready(name)))
            await sup.start(name, START_WITHIN_SECONDS)
        sup.watch()

    # ---- readiness ------------------------------------------------------------------------

    async def _postgres_ready(self) -> bool:
        connection = await asyncpg.connect(embedded.database_url(self.ports.postgres, "postgres"), timeout=2)
        await connection.close()
        return True

    async def _temporal_ready(self) -> bool:
        # connecting asks the frontend for its system info: the gRPC service answers, not just a port
        await asyncio.wait_for(Client.connect(self.temporal_address), timeout=3)
        return True

    async def _simulators_ready(self) -> bool:
        async with httpx.AsyncClient(timeout=2) as http:
            for system in SIMULATED_SYSTEMS:
                if (await http.get(f"{self.simulator_url(system)}/healthz")).status_code != 200:
                    return False
        return True

    async def _api_ready(self) -> bool:
        async with httpx.AsyncClient(timeout=2) as http:
            return (await http.get(f"{self.api_url}/readyz")).status_code == 200

    def _worker_ready(self, name: str) -> Probe:
        """A worker serves no port here: it is ready once this start of it logged so."""
        log_path = self.logs / f"{name}.log"

        async def probe() -> bool:
            text = log_path.read_text(errors="replace")
            return "worker started" in text.rsplit("---- chaos: start", 1)[-1]

        return probe

    # ---- faults -----------------------------------------------------------------------------

    def part(self, name: str) -> Part:
        return self.supervisor.parts[name]

    async def start_again(self, name: str, within: float = START_WITHIN_SECONDS) -> None:
        """Start the part unless it runs, and wait until it answers; a start that crashes is
        counted by the supervisor (which starts it again), and waited for once more."""
        part = self.part(name)
        deadline = time.monotonic() + within
        while True:
            if not part.running() and not part.wanted:
                part.spawn()
            try:
                await part.wait_ready(max(1.0, deadline - time.monotonic()))
                return
            except RuntimeError:
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(1.0)  # the supervisor's restart back-off, then look again

    async def kill(self, name: str) -> None:
        await self.part(name).kill()

    async def stop(self, name: str, sig: signal.Signals | None = None) -> None:
        await self.part(name).stop(sig)

    async def all_ready(self, within: float = START_WITHIN_SECONDS) -> None:
        """Every part running and answering (the supervisor restarts crashed ones)."""
        for name in self.supervisor.parts:
            await self.start_again(name, within)
