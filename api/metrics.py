"""The API's Prometheus metrics: request counters and latency of this process, and gauges
computed at each scrape from PostgreSQL (applications per stage, stuck, inbox backlog)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from datetime import UTC, datetime

import structlog
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from api.state import AppState
from store.metrics import INBOXES, OperationalGauges, read_gauges

REGISTRY = CollectorRegistry(auto_describe=True)
REQUESTS = Counter(
    "zcd_http_requests_total", "HTTP requests answered", ["method", "route", "status"], registry=REGISTRY
)
LATENCY = Histogram("zcd_http_request_seconds", "HTTP request latency", ["method", "route"], registry=REGISTRY)
SCRAPE_DB_TIMEOUT_SECONDS = 3.0

log = structlog.get_logger("api.metrics")


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


async def exposition(state: AppState) -> tuple[bytes, str]:
    """This scrape's text and content type. A database that does not answer gives
    `zcd_database_up 0`, never a failed scrape."""
    gauges: OperationalGauges | None = None
    try:
        gauges = await asyncio.wait_for(
            read_gauges(state.repos.pool, datetime.now(UTC)), timeout=SCRAPE_DB_TIMEOUT_SECONDS
        )
    except Exception as error:
        log.warning("metrics_database_unavailable", error=type(error).__name__)
    scrape = CollectorRegistry(auto_describe=False)
    scrape.register(_DatabaseGauges(gauges))
    return generate_latest(REGISTRY) + generate_latest(scrape), CONTENT_TYPE_LATEST
