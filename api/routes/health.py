"""Liveness, readiness and Prometheus metrics."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest

from api.auth import State

router = APIRouter(tags=["health"])

REGISTRY = CollectorRegistry(auto_describe=True)
REQUESTS = Counter(
    "zcd_http_requests_total", "HTTP requests answered", ["method", "route", "status"], registry=REGISTRY
)
LATENCY = Histogram("zcd_http_request_seconds", "HTTP request latency", ["method", "route"], registry=REGISTRY)


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz")
async def readyz(state: State) -> Any:
    checks: dict[str, str] = {}
    try:
        await asyncio.wait_for(state.repos.pool.fetchval("SELECT 1"), timeout=3)
        checks["database"] = "ok"
    except Exception as error:
        checks["database"] = f"unavailable: {type(error).__name__}"
    try:
        await asyncio.wait_for(state.temporal.service_client.check_health(), timeout=3)
        checks["temporal"] = "ok"
    except Exception as error:
        checks["temporal"] = f"unavailable: {type(error).__name__}"
    ready = all(v == "ok" for v in checks.values())
    return JSONResponse(
        {"status": "ready" if ready else "not_ready", "checks": checks}, status_code=200 if ready else 503
    )


@router.get("/metrics")
async def metrics() -> Response:
    return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)
