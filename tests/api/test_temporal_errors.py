"""Temporal's RPC errors reach the caller as 404 / 503 + Retry-After problems, never a bare
500, with the RPC status name in the log line; and anything else that escapes a handler is
still problem+json with a log line (the catch-all)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any, cast

import asyncpg
import httpx
import pytest
from fastapi import FastAPI
from structlog.testing import capture_logs
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from api import temporal_ops
from api.main import create_app
from api.problems import Problem
from domain.application import ApplicationView
from domain.errors import ErrorCode
from domain.settings import Settings
from tests.api.test_problems import assert_problem, bearer
from tests.fixtures.simulators import supplier_credit_code

ACCOUNT_NO = "6222020000000001"


def rpc_error(status: RPCStatusCode) -> RPCError:
    return RPCError(f"server said {status.name.lower()}", status, b"")


class FailingHandle:
    """A workflow handle whose every call raises what `fail` gives."""

    def __init__(self, fail: Callable[[], BaseException]) -> None:
        self._fail = fail

    async def query(self, *args: Any, **kwargs: Any) -> Any:
        raise self._fail()

    async def describe(self, *args: Any, **kwargs: Any) -> Any:
        raise self._fail()

    async def execute_update(self, *args: Any, **kwargs: Any) -> Any:
        raise self._fail()

    async def signal(self, *args: Any, **kwargs: Any) -> Any:
        raise self._fail()


class FailingTemporal:
    """Stands in for the Temporal client: every call fails with `fail()`."""

    def __init__(self, fail: Callable[[], BaseException]) -> None:
        self._fail = fail

    def get_workflow_handle(self, *args: Any, **kwargs: Any) -> FailingHandle:
        return FailingHandle(self._fail)

    async def execute_update_with_start_workflow(self, *args: Any, **kwargs: Any) -> Any:
        raise self._fail()


def failing(status: RPCStatusCode) -> Client:
    return cast(Client, FailingTemporal(lambda: rpc_error(status)))


UNAVAILABLE_LIKE = [
    RPCStatusCode.UNAVAILABLE,
    RPCStatusCode.DEADLINE_EXCEEDED,
    RPCStatusCode.RESOURCE_EXHAUSTED,
    RPCStatusCode.INTERNAL,
    RPCStatusCode.UNKNOWN,
]


# ---- temporal_ops: the mapping at the source --------------------------------------------


@pytest.mark.parametrize("status", UNAVAILABLE_LIKE, ids=lambda s: s.name)
async def test_an_rpc_failure_is_a_503_with_retry_after_and_its_status_logged(status: RPCStatusCode) -> None:
    calls = {
        "query": lambda c: temporal_ops.query_view(c, "app-1"),
        "describe": lambda c: temporal_ops.is_running(c, "app-1"),
        "update": lambda c: temporal_ops.update(c, "app-1", "decide", {}, ApplicationView),
        "signal": lambda c: temporal_ops.signal(c, "app-1", "treasury_payment", {}),
    }
    for operation, call in calls.items():
        with capture_logs() as logs, pytest.raises(Problem) as raised:
            await call(failing(status))
        assert raised.value.code == ErrorCode.UPSTREAM_UNAVAILABLE, operation
        assert raised.value.headers is not None and int(raised.value.headers["Retry-After"]) > 0
        [line] = [e for e in logs if e["event"] == "temporal_rpc_failed"]
        assert (line["status"], line["operation"], line["application_id"]) == (status.name, operation, "app-1")


async def test_not_found_keeps_its_meaning_per_operation() -> None:
    client = failing(RPCStatusCode.NOT_FOUND)
    assert await temporal_ops.query_view(client, "gone") is None
    assert await temporal_ops.is_running(client, "gone") is False
    assert await temporal_ops.signal(client, "gone", "treasury_payment", {}) is False
    with pytest.raises(Problem) as ended:
        await temporal_ops.update(client, "gone", "decide", {}, ApplicationView)
    assert ended.value.code == ErrorCode.INVALID_STATE  # the workflow has ended: no more changes


# ---- through the app ----------------------------------------------------------------------


@pytest.fixture
def make_api(
    db_pool: asyncpg.Pool, api_settings: Settings
) -> Callable[[Client], AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]]:
    async def make(client: Client) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
        app = create_app(api_settings, pool=db_pool, temporal_client=client)
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
            async with httpx.AsyncClient(transport=transport, base_url="http://api") as http:
                yield app, http

    return make


def application(contract_no: str = "WX-2026-RPC-0001") -> dict[str, Any]:
    return {
        "contract_no": contract_no,
        "supplier_credit_code": supplier_credit_code(7),
        "product_code": "STD",
        "requested_amount": "1000.00",
        "collection_account": {"account_no": ACCOUNT_NO, "account_name": "无锡某某科技有限公司"},
    }


@pytest.mark.parametrize(
    "status",
    [RPCStatusCode.UNAVAILABLE, RPCStatusCode.DEADLINE_EXCEEDED, RPCStatusCode.RESOURCE_EXHAUSTED],
    ids=lambda s: s.name,
)
async def test_a_submission_while_temporal_fails_is_503_upstream_unavailable(
    make_api: Any, credentials: dict[str, Any], status: RPCStatusCode
) -> None:
    async for _, http in make_api(failing(status)):
        with capture_logs() as logs:
            response = await http.post(
                "/v1/applications", json=application(), headers=bearer(credentials["banks"]["ICBC"])
            )
        assert_problem(response, 503, "upstream_unavailable")
        assert int(response.headers["Retry-After"]) > 0
        assert any(e.get("status") == status.name for e in logs if e["event"] == "temporal_rpc_failed")


async def test_a_submission_temporal_answers_not_found_is_404(make_api: Any, credentials: dict[str, Any]) -> None:
    async for _, http in make_api(failing(RPCStatusCode.NOT_FOUND)):
        response = await http.post("/v1/applications", json=application(), headers=bearer(credentials["banks"]["ICBC"]))
        assert_problem(response, 404, "not_found")


async def _raises(error: BaseException) -> None:
    raise error


@pytest.mark.parametrize(
    ("error", "status", "code", "event"),
    [
        (rpc_error(RPCStatusCode.UNAVAILABLE), 503, "upstream_unavailable", "temporal_rpc_failed"),
        (rpc_error(RPCStatusCode.NOT_FOUND), 404, "not_found", "temporal_rpc_failed"),
        (ConnectionRefusedError(111, "Connection refused"), 503, "upstream_unavailable", "database_unavailable"),
        (
            asyncpg.exceptions.CannotConnectNowError("the database system is starting up"),
            503,
            "upstream_unavailable",
            "database_unavailable",
        ),
        (KeyError(ACCOUNT_NO), 500, "internal_error", "unhandled_exception"),
    ],
    ids=["rpc-unavailable", "rpc-not-found", "db-refused", "db-starting", "a-bug"],
)
async def test_whatever_escapes_a_handler_is_a_problem_with_a_log_line(
    make_api: Any, error: BaseException, status: int, code: str, event: str
) -> None:
    """Raised straight from a route, outside temporal_ops: the app's own handlers map it."""
    async for app, http in make_api(cast(Client, object())):

        async def boom() -> None:
            await _raises(error)

        app.add_api_route("/test/boom", boom)
        with capture_logs() as logs:
            response = await http.get("/test/boom")
        assert_problem(response, status, code)
        assert response.headers.get("X-Request-Id"), "the catch-all answer went through the request middleware"
        if status == 503:
            assert int(response.headers["Retry-After"]) > 0
        [line] = [e for e in logs if e["event"] == event]
        assert line["path"] == "/test/boom"
        # the log names the error, never its message (which may quote data)
        assert ACCOUNT_NO not in repr(logs)
        assert any(e["event"] == "request" and e["status"] == status for e in logs)
