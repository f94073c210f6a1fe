"""The platform's HTTP API (API.md): `create_app` builds it, `serve` runs it with uvicorn."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
import structlog
import uvicorn
from fastapi import APIRouter, FastAPI
from fastapi.middleware.cors import CORSMiddleware
from temporalio.client import Client

from api import problems
from api.bureau import router as bureau
from api.bureau import session as bureau_session
from api.edge import WITHOUT_BEARER as EDGE_WITHOUT_BEARER
from api.edge import Edge
from api.observe import Observe
from api.problems import problem_responses
from api.redelivery import redeliver_forever
from api.routes import (
    applications,
    banks,
    codec,
    events,
    financing_requests,
    health,
    ops,
    ops_actions,
    procurement,
    stats,
    supplier,
    supplier_auth,
    supplier_pages,
    treasury,
)
from api.state import AppState
from domain.settings import Settings
from runtime.logging import configure_logging
from runtime.offline_docs import offline_docs_app
from runtime.temporal import connect
from runtime.waiting import keep_trying
from store.db import create_pool
from store.migrate import migrate
from store.repositories import Repositories

log = structlog.get_logger("api")

# Every router of the API. Each declares once who may call it (`dependencies=[Depends(...)]`,
# api/auth.py), one audience a router; tests/api/test_router_access.py holds the few that are
# open to anyone (health, sign-in, the supplier's static pages) and proves every other route
# refuses a caller of the wrong kind before its handler runs.
ROUTERS: tuple[APIRouter, ...] = (
    applications.router,
    banks.router,
    events.router,
    treasury.router,
    procurement.router,
    ops.router,
    ops_actions.router,
    stats.router,
    health.router,
    codec.payloads,
    codec.sessions,
    codec.public,
    bureau.pages,
    bureau.public,
    supplier_auth.public,
    supplier_auth.signed_in,
    supplier.router,
    financing_requests.router,
    supplier_pages.router,
)


async def open_database(url: str) -> asyncpg.Pool:
    """A pool on the migrated database; one attempt (`keep_trying` repeats it)."""
    pool = await create_pool(url)
    try:
        await migrate(pool)
    except BaseException:
        await pool.close()
        raise
    return pool


async def connect_then_redeliver(state: AppState, opened: list[asyncpg.Pool]) -> None:
    """Connect whatever is not connected yet, each with backoff until it answers (the API
    serves meanwhile: /readyz 503, handlers 503 + Retry-After), then hand over undelivered
    inbox notices for as long as the API runs. A pool opened here is put in `opened` for the
    lifespan to close."""
    settings = state.settings

    async def database() -> None:
        if not state.has_database:
            assert settings.database_url is not None
            url = settings.database_url
            pool = await keep_trying("postgresql", lambda: open_database(url))
            opened.append(pool)
            state.repos = Repositories.over(pool)

    async def temporal() -> None:
        if not state.has_temporal:
            state.temporal = await keep_trying("temporal", lambda: connect(settings))

    await asyncio.gather(database(), temporal())
    log.info("api_ready", temporal=settings.temporal_address, task_queue=settings.task_queue)
    await redeliver_forever(state, settings.redelivery_interval_seconds)


def create_app(
    settings: Settings, *, pool: asyncpg.Pool | None = None, temporal_client: Client | None = None
) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if pool is None and not settings.database_url:
            raise RuntimeError("DATABASE_URL is not set")
        state = AppState(
            settings=settings, repos=Repositories.over(pool) if pool is not None else None, temporal=temporal_client
        )
        app.state.zcd = state
        opened: list[asyncpg.Pool] = []
        background = asyncio.create_task(connect_then_redeliver(state, opened), name="api-upstreams")
        log.info("api_serving", temporal=settings.temporal_address, task_queue=settings.task_queue)
        try:
            yield
        finally:
            background.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await background
            await state.aclose()
            for own in opened:
                await own.close()

    # Swagger UI and ReDoc from assets the app serves itself (runtime/offline_docs.py): no CDN
    app = offline_docs_app(
        title="政采贷 platform API",
        version="1.0.0",
        description="Government-procurement contract financing (API.md v1).",
        lifespan=lifespan,
        # "/v1/applications/<id>/" is no application: 404, not a redirect to one
        redirect_slashes=False,
    )
    problems.install(app)

    for router in ROUTERS:
        app.include_router(router)
    app.add_exception_handler(bureau_session.SignInFirst, bureau_session.to_sign_in)
    # request id, metrics, log line and read audit around every route (api/observe.py)
    app.add_middleware(Observe)
    # size limit and credentials before any body is read (inside CORS, so preflights still work)
    app.add_middleware(Edge)
    document_edge_answers(app)
    # The Temporal UI (its own origin) calls /codec from the browser.
    app.add_middleware(
        CORSMiddleware,
        allow_origins=[settings.codec_cors_origin],
        allow_methods=["POST", "OPTIONS"],
        allow_headers=["*"],
        allow_credentials=True,
    )
    return app


def document_edge_answers(app: FastAPI) -> None:
    """The edge answers every operation may give before its handler runs (api/edge.py): 413 for
    a body over 1 MiB (on any method), and 401 on bearer-key POSTs. The OpenAPI document lists
    them on each operation, so it says exactly what can come back."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = build()
        for path, operations in schema.get("paths", {}).items():
            for method, operation in operations.items():
                responses = operation.setdefault("responses", {})
                extra = problem_responses(413)
                if method == "post" and path.startswith("/v1/") and not path.startswith(EDGE_WITHOUT_BEARER):
                    extra |= problem_responses(401)
                for status, answer in extra.items():
                    responses.setdefault(str(status), answer)
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


async def serve(settings: Settings) -> None:
    configure_logging(settings)
    app = create_app(settings)
    config = uvicorn.Config(app, host=settings.api_host, port=settings.api_port, log_config=None, access_log=False)
    await uvicorn.Server(config).serve()
