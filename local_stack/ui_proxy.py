"""The local stack's Temporal UI origin: a small reverse proxy on `temporal_ui_port` (8233).

`/codec` and `/codec/*` go to the API (`api_url`), everything else to the dev server's own UI
(on `temporal_ui_backend_port`, 8234). The UI's codec endpoint is then on the page's own
origin (`http://127.0.0.1:8233/codec`): the browser's default fetch (`credentials:
"same-origin"`) sends the ops codec session cookie opened at `http://127.0.0.1:8233/codec/login`,
with no per-browser UI setting and no CORS. (`temporal server start-dev` cannot tell its UI to
include cross-origin credentials.)

Method, path, query, headers (Cookie, Set-Cookie, Authorization included), status and bodies
pass through as they are; bodies stream both ways (nothing is buffered, a long or never-ending
answer is passed on as it comes). Hop-by-hop headers are dropped, Host names the upstream and
the X-Forwarded-* headers name what the browser asked for; a redirect to an upstream's own
address is pointed back at the proxy.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from http.cookiejar import CookieJar, DefaultCookiePolicy

import httpx
import uvicorn
from starlette.applications import Starlette
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response, StreamingResponse
from starlette.routing import Route

from domain.settings import Settings

CODEC_PREFIX = "/codec"

# RFC 9110 7.6.1 (and the de facto Keep-Alive / Proxy-Connection): meaningful for one hop only
HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "proxy-connection",
        "te",
        "trailer",
        "trailers",
        "transfer-encoding",
        "upgrade",
    }
)
METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]


def goes_to_api(path: str) -> bool:
    return path == CODEC_PREFIX or path.startswith(CODEC_PREFIX + "/")


def _end_to_end(headers: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """Without hop-by-hop headers, including any the Connection header names."""
    named = {
        token.strip().lower() for name, value in headers if name.lower() == "connection" for token in value.split(",")
    }
    return [(name, value) for name, value in headers if name.lower() not in HOP_BY_HOP | named]


def create_app(
    api_url: str,
    ui_url: str,
    mounts: dict[str, httpx.AsyncBaseTransport | None] | None = None,
) -> Starlette:
    """The proxy in front of `ui_url` that sends `/codec[/*]` to `api_url`. `mounts` replaces
    the network for tests (httpx's mounts, keyed by the upstream URLs)."""
    api, ui = httpx.URL(api_url.rstrip("/")), httpx.URL(ui_url.rstrip("/"))
    client = httpx.AsyncClient(
        # connecting is quick or fails; an answer may stream for as long as it likes
        timeout=httpx.Timeout(10.0, read=None, write=None, pool=None),
        follow_redirects=False,
        trust_env=False,  # never a proxy from the environment between us and localhost
        # cookies belong to each browser: the proxy's client must never keep one (httpx's client
        # stores every Set-Cookie and sends it with later requests — one operator's codec
        # session would then decode for every browser)
        cookies=CookieJar(policy=DefaultCookiePolicy(allowed_domains=[])),
        mounts=dict(mounts) if mounts else None,
    )

    async def proxy(request: Request) -> Response:
        upstream = api if goes_to_api(request.url.path) else ui
        raw_path = request.scope.get("raw_path") or request.url.path.encode()
        target = upstream.copy_with(
            raw_path=upstream.raw_path.rstrip(b"/")
            + raw_path
            + (b"?" + request.url.query.encode() if request.url.query else b"")
        )
        headers = [(k, v) for k, v in _end_to_end(request.headers.items()) if k.lower() != "host"]
        browser_host = request.headers.get("host", "")
        headers += [
            ("host", upstream.netloc.decode()),
            ("x-forwarded-host", browser_host),
            ("x-forwarded-proto", request.url.scheme),
        ]
        if request.client is not None:
            headers.append(("x-forwarded-for", request.client.host))
        has_body = "content-length" in request.headers or "transfer-encoding" in request.headers
        outgoing = client.build_request(
            request.method, target, headers=headers, content=request.stream() if has_body else None
        )
        try:
            answer = await client.send(outgoing, stream=True)
        except httpx.TransportError as err:
            which = "API" if upstream is api else "Temporal UI"
            return PlainTextResponse(f"the {which} at {upstream} did not answer: {type(err).__name__}", 502)
        response = StreamingResponse(
            _raw(answer), status_code=answer.status_code, background=BackgroundTask(answer.aclose)
        )
        out = []
        for name, value in _end_to_end(answer.headers.multi_items()):
            if name.lower() == "location" and browser_host:
                value = _back_to_proxy(value, upstream, f"{request.url.scheme}://{browser_host}")
            out.append((name.lower().encode("latin-1"), value.encode("latin-1")))
        response.raw_headers = out  # every Set-Cookie kept, bodies passed on as they came (still encoded)
        return response

    @contextlib.asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        try:
            yield
        finally:
            await client.aclose()

    return Starlette(
        routes=[Route("/{path:path}", proxy, methods=METHODS)],
        lifespan=lifespan,
    )


async def _raw(answer: httpx.Response) -> AsyncIterator[bytes]:
    async for chunk in answer.aiter_raw():
        yield chunk


def _back_to_proxy(location: str, upstream: httpx.URL, origin: str) -> str:
    prefix = f"{upstream.scheme}://{upstream.netloc.decode()}"
    return origin + location[len(prefix) :] if location.startswith(prefix) else location


def addresses(settings: Settings) -> tuple[str, int, str]:
    """(host, port) the proxy listens on and the dev server UI's URL behind it."""
    host = settings.temporal_address.rpartition(":")[0] or "127.0.0.1"
    return host, settings.temporal_ui_port, f"http://{host}:{settings.temporal_ui_backend_port}"


async def serve(settings: Settings) -> None:
    host, port, ui_url = addresses(settings)
    app = create_app(settings.api_url, ui_url)
    config = uvicorn.Config(app, host=host, port=port, log_config=None, access_log=False, timeout_graceful_shutdown=5)
    await uvicorn.Server(config).serve()


if __name__ == "__main__":
    from domain.settings import get_settings
    from runtime.logging import configure_logging

    configure_logging(get_settings())
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(get_settings()))
