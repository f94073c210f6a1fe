"""The faults a chaos run injects while the loans are driven, seeded and counted.

- a worker SIGKILLed every few seconds, and also the moment the bank's payout shows (the
  bank answered, the activity may not have completed: the window of issue 9), then started
  again after a short pause;
- the Temporal dev server stopped (SIGTERM, then SIGKILL the next time) and started again on
  the same SQLite file and port;
- the API SIGKILLed the moment a treasury notice is about to leave, and started again;
- PostgreSQL stopped (fast shutdown) and started again on the same data directory;
- the bank simulator's own API failing 30 % of calls (half after executing), slowed, and
  for a few seconds down.

The restarts are spread over the batch by how many loans have started, never two at once
(one outage at a time is what the settle-down can be asked to absorb). Everything stops when
`finish()` is awaited: the parts are all up again and the bank answers normally.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx

from tests.chaos.cluster import WORKERS, Cluster
from tests.chaos.forms import ChaosForm

DOWN_SECONDS = (0.5, 2.5)  # how long a killed part stays down before it is started again
PAYOUT_KILL_SHARE = 0.5  # of the payouts seen, how many get a worker killed at once


async def until(condition: Callable[[], bool], every: float = 0.2) -> None:
    """Poll a condition of the run (its progress, a count) until it holds."""
    while True:
        if condition():
            return
        await asyncio.sleep(every)


@dataclass
class Injected:
    worker_kills: int = 0
    payout_kills: int = 0  # of worker_kills: right after the bank executed a payout
    temporal_restarts: int = 0
    api_restarts: int = 0
    pg_restarts: int = 0
    bank_outages: int = 0
    log: list[str] = field(default_factory=list)


@dataclass
class Monkey:
    cluster: Cluster
    form: ChaosForm
    rng: random.Random
    progress: Callable[[], float]  # share of the chaos batch started, 0..1
    injected: Injected = field(default_factory=Injected)
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)
    _restarting: list[asyncio.Task[None]] = field(default_factory=list)
    _outage: asyncio.Lock = field(default_factory=asyncio.Lock)  # one big restart at a time
    _api_wanted: asyncio.Event = field(default_factory=asyncio.Event)
    _stopping: bool = False
    _began: float = field(default_factory=time.monotonic)

    def note(self, what: str) -> None:
        self.injected.log.append(f"{time.monotonic() - self._began:7.1f}s {what}")

    # ---- the hooks the outside world calls ------------------------------------------------

    async def on_payout(self, contract_no: str) -> None:
        if self._stopping or self.rng.random() >= PAYOUT_KILL_SHARE:
            return
        if self.injected.worker_kills >= self.max_kills:
            return
        await self.kill_a_worker(f"payout of {contract_no} seen at the bank")

    async def on_notice(self, payment_id: str) -> None:
        if self._api_wanted.is_set() and not self._stopping:
            self._api_wanted.clear()
            # the notice leaves now; the API dies while it is on its way
            self._restarting.append(asyncio.create_task(self._restart_api(payment_id)))

    # ---- the schedule ---------------------------------------------------------------------

    @property
    def max_kills(self) -> int:
        return self.form.worker_kills * 3  # bounded, whatever the batch's length

    def start(self) -> None:
        self._tasks = [
            asyncio.create_task(self._kill_workers()),
            asyncio.create_task(self._restarts()),
            asyncio.create_task(self._bank_faults()),
        ]

    async def _kill_workers(self) -> None:
        while self.injected.worker_kills < self.max_kills:
            await asyncio.sleep(self.rng.uniform(*self.form.kill_every_seconds))
            await self.kill_a_worker("every few seconds")

    async def kill_a_worker(self, why: str) -> None:
        running = [name for name in WORKERS if self.cluster.part(name).running()]
        if not running:
            return
        name = self.rng.choice(running)
        await self.cluster.kill(name)
        self.injected.worker_kills += 1
        if why.startswith("payout"):
            self.injected.payout_kills += 1
        self.note(f"SIGKILL {name} ({why})")
        self._restarting.append(asyncio.create_task(self._start_later(name)))

    async def _start_later(self, name: str) -> None:
        await asyncio.sleep(self.rng.uniform(*DOWN_SECONDS))
        await self.cluster.start_again(name)

    def _schedule(self) -> list[tuple[float, str]]:
        """(share of the batch started, what) for each restart, spread over the batch."""
        wanted = (
            ("temporal", self.form.temporal_restarts),
            ("api", self.form.api_restarts),
            ("postgres", self.form.pg_restarts),
        )
        events = [what for what, count in wanted for _ in range(count)]
        self.rng.shuffle(events)
        return [((i + 1) / (len(events) + 1), what) for i, what in enumerate(events)]

    async def _restarts(self) -> None:
        for share, what in self._schedule():
            await until(self._reached(share))  # the batch got this far
            if what == "temporal":
                await self._restart_temporal()
            elif what == "postgres":
                await self._restart_postgres()
            else:
                self._api_wanted.set()  # done by on_notice, when a notice is in flight
                await until(lambda: not self._api_wanted.is_set() or self._stopping)

    def _reached(self, share: float) -> Callable[[], bool]:
        return lambda: self.progress() >= share

    async def _restart_temporal(self) -> None:
        async with self._outage:
            hard = self.injected.temporal_restarts % 2 == 1  # SIGTERM first, SIGKILL the next time
            if hard:
                await self.cluster.kill("temporal")
            else:
                await self.cluster.stop("temporal", signal.SIGTERM)
            self.note(f"Temporal {'SIGKILL' if hard else 'SIGTERM'}")
            await asyncio.sleep(self.rng.uniform(1.0, 3.0))
            await self.cluster.start_again("temporal")
            self.injected.temporal_restarts += 1
            self.note("Temporal started again on its SQLite file")

    async def _restart_api(self, payment_id: str) -> None:
        async with self._outage:
            await asyncio.sleep(self.rng.uniform(0.0, 0.03))
            await self.cluster.kill("api")
            self.note(f"SIGKILL api (notice {payment_id} in flight)")
            await asyncio.sleep(self.rng.uniform(*DOWN_SECONDS))
            await self.cluster.start_again("api")
            self.injected.api_restarts += 1
            self.note("api started again")

    async def _restart_postgres(self) -> None:
        async with self._outage:
            await self.cluster.stop("postgres")  # fast shutdown: sessions ended, data consistent
            self.note("PostgreSQL stopped")
            await asyncio.sleep(self.rng.uniform(1.0, 3.0))
            await self.cluster.start_again("postgres")
            self.injected.pg_restarts += 1
            self.note("PostgreSQL started again")

    async def _bank_faults(self) -> None:
        await self.set_bank_faults(error_rate=self.form.bank_error_rate, latency_ms=self.form.bank_latency_ms)
        await until(lambda: self.progress() >= 0.6)
        await self.set_bank_faults(outage=True)
        self.injected.bank_outages += 1
        self.note(f"bank outage for {self.form.bank_outage_seconds:.0f} s")
        await asyncio.sleep(self.form.bank_outage_seconds)
        await self.set_bank_faults(error_rate=self.form.bank_error_rate, latency_ms=self.form.bank_latency_ms)

    async def set_bank_faults(self, *, error_rate: float = 0.0, latency_ms: int = 0, outage: bool = False) -> None:
        body = {"error_rate": error_rate, "latency_ms": latency_ms, "outage": outage, "seed": self.rng.randrange(10**6)}
        async with httpx.AsyncClient(timeout=10) as http:
            answer = await http.post(f"{self.cluster.simulator_url('bank')}/sim/faults", json=body)
            answer.raise_for_status()
        self.note(f"bank faults {body}")

    # ---- the end ------------------------------------------------------------------------------

    async def finish(self) -> None:
        """Stop injecting once the minimum fault counts are reached; every part up again."""
        deadline = time.monotonic() + 120
        # the periodic killer reaches its minimum by itself
        await until(lambda: self.injected.worker_kills >= self.form.worker_kills or time.monotonic() > deadline)
        while self._restarts_pending() and time.monotonic() < deadline:
            if self._api_wanted.is_set():
                # no notice left to send: the API restart happens without one in flight
                self._api_wanted.clear()
                self._restarting.append(asyncio.create_task(self._restart_api("none in flight")))
            await asyncio.sleep(0.2)
        self._stopping = True
        for task in self._tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await asyncio.gather(*self._restarting, return_exceptions=True)
        await self.set_bank_faults()
        await self.cluster.all_ready()

    def _restarts_pending(self) -> bool:
        done = self.injected
        return (
            done.temporal_restarts < self.form.temporal_restarts
            or done.api_restarts < self.form.api_restarts
            or done.pg_restarts < self.form.pg_restarts
        )
