"""The local stack's UI proxy (local_stack/ui_proxy.py): `/codec` and `/codec/*` reach the API,
everything else the dev server's UI, with method, path, query, body, cookies both ways and
status kept; hop-by-hop headers stay on their hop, Host names the upstream, and an answer
streams through as it comes (the UI's long requests are never held back)."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator

import httpx
import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response, StreamingResponse
from starlette.routing import Route

from local_stack.ui_proxy import create_app, goes_to_api

API, UI, PROXY = "http://api.test:8000", "http://ui.test:8234", "http://127.0.0.1:8233"
METHODS = ["GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"]


def upstream(name: str) -> Starlette:
    """Echoes what it was asked; a few paths answer as the API or the UI would."""

    async def echo(request: Request) -> Response:
        body = await request.body()
        seen = {
            "upstream": name,
            "method": request.method,
            "path": request.url.path,
            "query": request.url.query,
            "body": body.decode(),
            "headers": {k: v for k, v in request.headers.items()},
        }
        path = request.url.path
        if path == "/codec/login":
            answer = JSONResponse(seen)
            answer.set_cookie("zcd_codec_session", "token-1", path="/codec", httponly=True, samesite="strict")
            answer.set_cookie("second", "2", path="/codec")
            return answer
        if path == "/codec/decode" and "zcd_codec_session=token-1" not in request.headers.get("cookie", ""):
            return JSONResponse({"detail": "no session"}, status_code=401)
        if path == "/missing":
            return JSONResponse(seen, status_code=404)
        if path == "/created":
            return JSONResponse(seen, status_code=201, headers={"connection": "close, x-hop", "x-hop": "1"})
        if path == "/moved":
            return RedirectResponse(f"{UI}/namespaces/default/workflows?x=1", status_code=302)
        return JSONResponse(seen)

    return Starlette(routes=[Route("/{path:path}", echo, methods=METHODS)])


@pytest.fixture
async def proxy() -> AsyncIterator[httpx.AsyncClient]:
    mounts: dict[str, httpx.AsyncBaseTransport | None] = {
        API: httpx.ASGITransport(app=upstream("api")),
        UI: httpx.ASGITransport(app=upstream("ui")),
    }
    app = create_app(API, UI, mounts=mounts)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=PROXY) as client,
    ):
        yield client


def test_only_codec_and_below_go_to_the_api() -> None:
    assert goes_to_api("/codec") and goes_to_api("/codec/decode") and goes_to_api("/codec/login")
    assert not goes_to_api("/") and not goes_to_api("/codecs") and not goes_to_api("/api/v1/codec")


@pytest.mark.parametrize(
    ("path", "upstream_name"),
    [
        ("/codec", "api"),
        ("/codec/encode", "api"),
        ("/", "ui"),
        ("/api/v1/settings", "ui"),
        ("/namespaces/default/workflows", "ui"),
        ("/_app/immutable/start.js", "ui"),
        ("/codecs", "ui"),
    ],
)
async def test_routing(proxy: httpx.AsyncClient, path: str, upstream_name: str) -> None:
    seen = (await proxy.get(path)).json()
    assert seen["upstream"] == upstream_name and seen["path"] == path
    # Host names the upstream; what the browser asked for travels in X-Forwarded-*
    assert seen["headers"]["host"] == ("api.test:8000" if upstream_name == "api" else "ui.test:8234")
    assert seen["headers"]["x-forwarded-host"] == "127.0.0.1:8233"
    assert seen["headers"]["x-forwarded-proto"] == "http"


async def test_the_session_cookie_is_set_on_the_proxy_origin_and_sent_back_to_the_api(
    proxy: httpx.AsyncClient,
) -> None:
    refused = await proxy.post("/codec/decode", json={"payloads": []})
    assert refused.status_code == 401 and refused.json() == {"detail": "no session"}

    login = await proxy.post("/codec/login", data={"ops_key": "ops-secret"})
    assert login.status_code == 200
    assert login.json()["body"] == "ops_key=ops-secret"  # the form body reached the API
    cookies = login.headers.get_list("set-cookie")
    assert len(cookies) == 2  # every Set-Cookie passes, none folded into another
    assert cookies[0].startswith("zcd_codec_session=token-1;") and "HttpOnly" in cookies[0]
    assert "Path=/codec" in cookies[0] and "SameSite=strict" in cookies[0]

    # the client keeps the cookie for the proxy's origin, as a browser would, and sends it back
    decoded = await proxy.post("/codec/decode", json={"payloads": [{"data": "eA=="}]})
    assert decoded.status_code == 200, decoded.text
    seen = decoded.json()
    assert "zcd_codec_session=token-1" in seen["headers"]["cookie"]
    assert seen["body"] == '{"payloads":[{"data":"eA=="}]}'
    assert seen["headers"]["content-type"] == "application/json"


async def test_the_proxy_keeps_no_cookie_one_browser_session_is_not_anothers(proxy: httpx.AsyncClient) -> None:
    """httpx's client keeps the cookies it is sent: the proxy's must not, or one operator's
    sign-in would decode for every browser that comes after."""
    assert (await proxy.post("/codec/login", data={"ops_key": "ops-secret"})).status_code == 200
    assert (await proxy.post("/codec/decode", json={"payloads": []})).status_code == 200
    another_browser = httpx.AsyncClient(transport=proxy._transport, base_url=PROXY)
    async with another_browser:
        refused = await another_browser.post("/codec/decode", json={"payloads": []})
        assert refused.status_code == 401, refused.text
        seen = (await another_browser.get("/api/v1/settings")).json()
        assert "cookie" not in seen["headers"]


async def test_method_query_body_headers_and_status_pass_through(proxy: httpx.AsyncClient) -> None:
    answer = await proxy.put(
        "/api/v1/namespaces/default/workflows?query=WorkflowType%3D%22Financing%22&pageSize=20",
        content=b"raw body \xe2\x9c\x93",
        headers={"authorization": "Bearer ops", "x-csrf-token": "abc", "cookie": "_csrf=abc"},
    )
    seen = answer.json()
    assert answer.status_code == 200 and seen["method"] == "PUT"
    assert seen["query"] == "query=WorkflowType%3D%22Financing%22&pageSize=20"
    assert seen["body"] == "raw body ✓"
    assert seen["headers"]["authorization"] == "Bearer ops" and seen["headers"]["x-csrf-token"] == "abc"
    assert seen["headers"]["cookie"] == "_csrf=abc"

    assert (await proxy.get("/missing")).status_code == 404
    assert (await proxy.delete("/codec/session")).json()["method"] == "DELETE"
    created = await proxy.post("/created", json={})
    assert created.status_code == 201
    # hop-by-hop headers, and those the Connection header names, stay on their hop
    assert "x-hop" not in created.headers and "close" not in created.headers.get("connection", "")


async def test_hop_by_hop_request_headers_are_not_forwarded(proxy: httpx.AsyncClient) -> None:
    seen = (await proxy.get("/", headers={"connection": "x-private", "x-private": "1", "te": "trailers"})).json()
    assert "x-private" not in seen["headers"] and "te" not in seen["headers"]


async def test_a_redirect_to_the_upstream_comes_back_to_the_proxy(proxy: httpx.AsyncClient) -> None:
    moved = await proxy.get("/moved")
    assert moved.status_code == 302
    assert moved.headers["location"] == f"{PROXY}/namespaces/default/workflows?x=1"


async def test_an_upstream_that_does_not_answer_is_a_502() -> None:
    app = create_app("http://127.0.0.1:9", f"http://127.0.0.1:{_free_port()}")
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=PROXY) as client,
    ):
        answer = await client.get("/codec/decode")
    assert answer.status_code == 502 and "API" in answer.text


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextlib.asynccontextmanager
async def _serving(app: Starlette, port: int) -> AsyncIterator[None]:
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, lifespan="on"))
    task = asyncio.create_task(server.serve())
    try:
        for _ in range(500):  # uvicorn says it listens by this flag only
            if server.started:
                break
            await asyncio.sleep(0.01)
        assert server.started, "the test server did not start within 5 s"
        yield
    finally:
        server.should_exit = True
        await task


async def test_a_long_answer_streams_through_without_waiting_for_its_end() -> None:
    """Over real sockets: the first event of an answer that is still going reaches the browser."""
    release = asyncio.Event()

    async def events(_: Request) -> Response:
        async def stream() -> AsyncIterator[bytes]:
            yield b"data: first\n\n"
            await release.wait()
            yield b"data: last\n\n"

        return StreamingResponse(stream(), media_type="text/event-stream")

    ui_port, proxy_port = _free_port(), _free_port()
    ui_app = Starlette(routes=[Route("/events", events)])
    proxy_app = create_app("http://127.0.0.1:9", f"http://127.0.0.1:{ui_port}")
    async with (
        _serving(ui_app, ui_port),
        _serving(proxy_app, proxy_port),
        httpx.AsyncClient(timeout=10) as client,
        client.stream("GET", f"http://127.0.0.1:{proxy_port}/events") as answer,
    ):
        assert answer.headers["content-type"].startswith("text/event-stream")
        chunks = answer.aiter_raw()
        first = await asyncio.wait_for(anext(chunks), timeout=5)
        assert first == b"data: first\n\n"
        release.set()
        rest = b"".join([chunk async for chunk in chunks])
        assert rest == b"data: last\n\n"
