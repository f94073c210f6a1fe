"""Liveness, readiness and Prometheus metrics."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

import structlog
from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse, PlainTextResponse
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from api.auth import State
from store.metrics import INBOXES, OperationalGauges, read_gauges

router = APIRouter(tags=["health"])

REGISTRY = CollectorRegistry(auto_describe=True)
REQUESTS = Counter(
    "zcd_http_requests_total", "HTTP requests answered", ["method", "route", "status"], registry=REGISTRY
)
LATENCY = Histogram("zcd_http_request_seconds", "HTTP request latency", ["method", "route"], registry=REGISTRY)
SCRAPE_DB_TIMEOUT_SECONDS = 3.0

log = structlog.get_logger("api.metrics")


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz")
async def readyz(state: State) -> Any:
    """200 once PostgreSQL and Temporal both answer now; 503 while the API is still waiting
    for either at start-up ("connecting") or one of them stopped answering."""
    checks: dict[str, str] = {"database": "connecting", "temporal": "connecting"}
    if state.has_database:
        try:
            await asyncio.wait_for(state.repos.pool.fetchval("SELECT 1"), timeout=3)
            checks["database"] = "ok"
        except Exception as error:
            checks["database"] = f"unavailable: {type(error).__name__}"
    if state.has_temporal:
        try:
            await asyncio.wait_for(state.temporal.service_client.check_health(), timeout=3)
            checks["temporal"] = "ok"
        except Exception as error:
            checks["temporal"] = f"unavailable: {type(error).__name__}"
    ready = all(v == "ok" for v in checks.values())
    return JSONResponse(
        {"status": "ready" if ready else "not_ready", "checks": checks}, status_code=200 if ready else 503
    )


class _DatabaseGauges(Collector):
    """The gauges read from PostgreSQL for this scrape (None: the database did not answer)."""

    def __init__(self, gauges: OperationalGauges | None) -> None:
        self._gauges = gauges

    def collect(self) -> Iterable[Metric]:
        up = GaugeMetricFamily("zcd_database_up", "1 when PostgreSQL answered this scrape's queries, else 0")
        up.add_metric([], 0 if self._gauges is None else 1)
        yield up
        if self._gauges is None:
            return  # absent rather than a misleading zero
        g = self._gauges
        applications = GaugeMetricFamily("zcd_applications", "Applications per stage (read model)", labels=["stage"])
        for stage, n in g.applications.items():
            applications.add_metric([stage], n)
        stuck = GaugeMetricFamily(
            "zcd_applications_stuck",
            "Applications needing a person, or active and past their stage's deadline (GET /v1/ops/stuck), per stage",
            labels=["stage"],
        )
        for stage, n in g.stuck.items():
            stuck.add_metric([stage], n)
        undelivered = GaugeMetricFamily(
            "zcd_inbox_undelivered",
            "Treasury payments / account-change events recorded but not yet delivered to their workflow",
            labels=["inbox"],
        )
        oldest = GaugeMetricFamily(
            "zcd_inbox_undelivered_oldest_seconds",
            "Age of the oldest message recorded but not yet delivered (0 when none)",
            labels=["inbox"],
        )
        for inbox in INBOXES:
            waiting = g.undelivered[inbox]
            undelivered.add_metric([inbox], waiting.count)
            oldest.add_metric([inbox], waiting.oldest_age_seconds)
        yield from (applications, stuck, undelivered, oldest)


@router.get("/metrics", response_class=PlainTextResponse)
async def metrics(state: State) -> Response:
    """Request counters of this process, and gauges computed now from PostgreSQL. A database
    that does not answer gives `zcd_database_up 0`, never a failed scrape."""
    gauges: OperationalGauges | None = None
    try:
        gauges = await asyncio.wait_for(
            read_gauges(state.repos.pool, datetime.now(UTC)), timeout=SCRAPE_DB_TIMEOUT_SECONDS
        )
    except Exception as error:
        log.warning("metrics_database_unavailable", error=type(error).__name__)
    scrape = CollectorRegistry(auto_describe=False)
    scrape.register(_DatabaseGauges(gauges))
    return Response(generate_latest(REGISTRY) + generate_latest(scrape), media_type=CONTENT_TYPE_LATEST)
