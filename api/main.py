"""The platform's HTTP API (API.md): `create_app` builds it, `serve` runs it with uvicorn."""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import asyncpg
import structlog
import uvicorn
from fastapi import FastAPI, Request, Response
from fastapi.middleware.cors import CORSMiddleware
from temporalio.client import Client

from api import problems
from api.audit import record
from api.redelivery import redeliver_forever
from api.routes import banks, codec, health, ops, ops_actions, procurement, stats, treasury
from api.routes.health import LATENCY, REQUESTS
from api.state import AppState
from domain.settings import Settings
from store.db import create_pool
from store.migrate import migrate
from store.repositories import Repositories
from worker.client import connect
from worker.logging import configure_logging

log = structlog.get_logger("api")


def create_app(
    settings: Settings, *, pool: asyncpg.Pool | None = None, temporal_client: Client | None = None
) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        own_pool = pool is None
        the_pool = pool
        if the_pool is None:
            if not settings.database_url:
                raise RuntimeError("DATABASE_URL is not set")
            the_pool = await create_pool(settings.database_url)
            await migrate(the_pool)
        client = temporal_client or await connect(settings)
        state = AppState(settings=settings, repos=Repositories.over(the_pool), temporal=client)
        app.state.zcd = state
        redelivery = asyncio.create_task(redeliver_forever(state, settings.redelivery_interval_seconds))
        log.info("api_started", temporal=settings.temporal_address, task_queue=settings.task_queue)
        try:
            yield
        finally:
            redelivery.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await redelivery
            if own_pool:
                await the_pool.close()

    app = FastAPI(
        title="政采贷 platform API",
        version="1.0.0",
        description="Government-procurement contract financing (API.md v1).",
        lifespan=lifespan,
    )
    problems.install(app)

    @app.middleware("http")
    async def observe(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        started = time.perf_counter()
        request_id = request.headers.get("x-request-id") or uuid.uuid4().hex
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(request_id=request_id)
        response = await call_next(request)
        response.headers["X-Request-Id"] = request_id
        route = request.scope.get("route")
        path = getattr(route, "path", "unmatched")
        elapsed = time.perf_counter() - started
        REQUESTS.labels(request.method, path, str(response.status_code)).inc()
        LATENCY.labels(request.method, path).observe(elapsed)
        principal = getattr(request.state, "principal", None)
        if principal is not None and request.method == "GET":
            # reads are authenticated actions too; writes are audited by their handlers
            params = request.scope.get("path_params") or {}
            await record(
                app.state.zcd, principal.name, f"read {path}", params.get("application_id"), status=response.status_code
            )
        log.info(
            "request",
            method=request.method,
            route=path,
            status=response.status_code,
            ms=round(elapsed * 1000, 1),
            principal=principal.name if principal is not None else None,
        )
        return response

    for module in (banks, treasury, procurement, ops, ops_actions, stats, health, codec):
        app.include_router(module.router)
    # The Temporal UI (its own origin) calls /codec from the browser.
    app.add_middleware(
        CORSMiddleware,
        allow_origins=[settings.codec_cors_origin],
        allow_methods=["POST", "OPTIONS"],
        allow_headers=["*"],
        allow_credentials=True,
    )
    return app


async def serve(settings: Settings) -> None:
    configure_logging(settings)
    app = create_app(settings)
    config = uvicorn.Config(app, host=settings.api_host, port=settings.api_port, log_config=None, access_log=False)
    await uvicorn.Server(config).serve()
