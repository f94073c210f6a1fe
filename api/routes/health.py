"""Liveness, readiness and the Prometheus scrape (the metrics themselves: api/metrics.py)."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse, PlainTextResponse

from api.auth import State
from api.metrics import exposition

router = APIRouter(tags=["health"])


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


@router.get("/metrics", response_class=PlainTextResponse)
async def metrics(state: State) -> Response:
    """Request counters of this process, and gauges computed now from PostgreSQL. A database
    that does not answer gives `zcd_database_up 0`, never a failed scrape."""
    body, media_type = await exposition(state)
    return Response(body, media_type=media_type)
