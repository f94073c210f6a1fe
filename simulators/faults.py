"""Fault injection shared by the three simulated systems.

A real bank or treasury is sometimes slow, sometimes down, and sometimes executes a request
whose answer never reaches the caller. The platform must survive all three without paying
twice, so every simulator can be told to misbehave:

    POST /sim/faults {"error_rate": 0.3, "latency_ms": 200, "outage": false, "seed": 7}
    GET  /sim/faults  → the current settings and counters of what was injected

- `outage`: every call to the system's own API answers 503;
- `error_rate`: that share of calls answers 503; half of those failures happen *after* the
  operation was executed (the answer is lost), the other half before — only an idempotency
  key keeps a retry from having a second effect;
- `latency_ms`: added before each call is handled;
- `seed` (optional): reseeds the random draws, so a test gets the same sequence each time.

Faults hit the simulated system's own API only, never the `/sim/*` test hooks or `/healthz`.
A 503 says what happened in its `Sim-Fault` header (`outage`, `before-execution`,
`after-execution`), for logs and tests; a real system would not.
"""

from __future__ import annotations

import asyncio
import random
from enum import StrEnum

import structlog
from fastapi import APIRouter
from pydantic import BaseModel, Field
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from simulators.problems import problem_response

log = structlog.get_logger("simulators.faults")

FAULT_HEADER = "Sim-Fault"
EXEMPT_PREFIXES = ("/sim/", "/healthz", "/docs", "/redoc", "/static-offline-docs", "/openapi.json")


class FaultSettings(BaseModel):
    """What to inject; a POST replaces all of it (omitted fields fall back to "no fault")."""

    error_rate: float = Field(default=0.0, ge=0.0, le=1.0)
    latency_ms: int = Field(default=0, ge=0, le=60_000)
    outage: bool = False
    seed: int | None = None


class FaultCounters(BaseModel):
    calls: int = 0
    outage_refusals: int = 0
    failed_before_execution: int = 0
    failed_after_execution: int = 0


class FaultStatus(FaultSettings):
    counters: FaultCounters


class Fault(StrEnum):
    NONE = "none"
    OUTAGE = "outage"
    BEFORE_EXECUTION = "before-execution"
    AFTER_EXECUTION = "after-execution"


class FaultInjector:
    """Decides, call by call, whether and how a call fails. Draws come from one seedable RNG,
    two per call while `error_rate` > 0 (whether it fails, then before or after execution)."""

    def __init__(self, seed: int | None = None) -> None:
        self.settings = FaultSettings(seed=seed)
        self.counters = FaultCounters()
        self._rng = random.Random(seed)

    def configure(self, settings: FaultSettings) -> None:
        self.settings = settings
        self.counters = FaultCounters()
        if settings.seed is not None:
            self._rng = random.Random(settings.seed)

    def status(self) -> FaultStatus:
        return FaultStatus(**self.settings.model_dump(), counters=self.counters.model_copy())

    def next_fault(self) -> Fault:
        self.counters.calls += 1
        if self.settings.outage:
            self.counters.outage_refusals += 1
            return Fault.OUTAGE
        if self.settings.error_rate <= 0 or self._rng.random() >= self.settings.error_rate:
            return Fault.NONE
        if self._rng.random() < 0.5:
            self.counters.failed_after_execution += 1
            return Fault.AFTER_EXECUTION
        self.counters.failed_before_execution += 1
        return Fault.BEFORE_EXECUTION


class FaultMiddleware:
    """ASGI middleware applying the injector to the system's own API.

    An after-execution fault runs the request to completion — state changes, idempotency
    records and all — and then throws the answer away, as a dropped connection would.
    """

    def __init__(self, app: ASGIApp, injector: FaultInjector, system: str) -> None:
        self.app = app
        self.injector = injector
        self.system = system

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(EXEMPT_PREFIXES):
            await self.app(scope, receive, send)
            return
        if self.injector.settings.latency_ms:
            await asyncio.sleep(self.injector.settings.latency_ms / 1000)
        fault = self.injector.next_fault()
        if fault is Fault.NONE:
            await self.app(scope, receive, send)
            return
        if fault is Fault.AFTER_EXECUTION:

            async def discard(_: Message) -> None:
                return None

            await self.app(scope, receive, discard)
        log.info("fault.injected", system=self.system, fault=fault.value, method=scope["method"], path=scope["path"])
        detail = "the system is down" if fault is Fault.OUTAGE else "the system failed to answer"
        response = problem_response(503, "unavailable", detail, headers={FAULT_HEADER: fault.value})
        await response(scope, receive, send)


def fault_routes(injector: FaultInjector) -> APIRouter:
    router = APIRouter(prefix="/sim/faults", tags=["sim"])

    @router.get("")
    async def show_faults() -> FaultStatus:
        return injector.status()

    @router.post("")
    async def set_faults(settings: FaultSettings) -> FaultStatus:
        injector.configure(settings)
        log.info("faults.configured", **settings.model_dump())
        return injector.status()

    return router
