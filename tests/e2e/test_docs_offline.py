"""`/docs` and `/redoc` render with the network closed (issue 12 item 2).

Debian's headless Chromium loads the API's Swagger UI and ReDoc pages from a real server on
loopback. Every request the browser would send anywhere else goes to a tripwire proxy on
loopback that answers nothing and records what was asked: the page must render its operations
and the tripwire must have seen nothing. Screenshots of both pages are kept in the test's tmp dir.

Skipped only where Chromium is not installed and this is not CI (`.ci/run` installs it).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, cast

import asyncpg
import httpx
import pytest
import uvicorn
from temporalio.client import Client

from api.main import create_app
from domain.settings import Settings
from tests.e2e.browser import QUIET_FLAGS
from tests.fixtures.database import free_port

pytestmark = pytest.mark.e2e

BROWSER_SECONDS = 90
INTRANET_HOST = "zcd-api.bank.internal"
# Chromium's own services (clock, component updates, sign-in), asked whatever the page; the
# fonts hosts are a page's, never the browser's
BROWSER_OWN_SUFFIXES = (".google.com", ".googleapis.com")
PAGE_HOSTS = ("fonts.googleapis.com", "fonts.gstatic.com")


def _host(request_line: str) -> str:
    """The host of a proxy request line: `CONNECT h:443 HTTP/1.1` or `GET http://h/p HTTP/1.1`."""
    target = request_line.split(" ")[1] if " " in request_line else request_line
    target = target.split("://", 1)[-1]
    return target.split("/", 1)[0].rsplit(":", 1)[0].lower()


def asked_by_page(requests: list[str]) -> list[str]:
    """What the page (not the browser's own services) tried to reach beyond the API."""
    return [r for r in requests if _host(r) in PAGE_HOSTS or not _host(r).endswith(BROWSER_OWN_SUFFIXES)]


class _NoTemporal:
    """Rendering documentation never reaches Temporal."""

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"Temporal was used: {name}")


@pytest.fixture(scope="module")
def chromium() -> str:
    found = shutil.which("chromium")
    if found is None:
        if os.environ.get("CI") == "true":
            pytest.fail("chromium is not installed; .ci/run installs Debian's chromium package")
        pytest.skip("chromium is not installed (apt-get install -y chromium)")
    return found


class Tripwire:
    """A proxy on loopback that refuses every request and remembers its first line."""

    def __init__(self) -> None:
        self.requests: list[str] = []
        self.port = 0
        self._server: asyncio.Server | None = None

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(Exception):
            line = await asyncio.wait_for(reader.readline(), timeout=5)
            self.requests.append(line.decode(errors="replace").strip())
        writer.close()

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()


@pytest.fixture
async def tripwire() -> AsyncIterator[Tripwire]:
    wire = Tripwire()
    await wire.start()
    yield wire
    await wire.close()


@pytest.fixture
async def api_url(db_pool: asyncpg.Pool, database_url: str) -> AsyncIterator[str]:
    """The platform API served by uvicorn on a loopback port, as `zcd api` serves it."""
    port = free_port()
    app = create_app(Settings(database_url=database_url), pool=db_pool, temporal_client=cast(Client, _NoTemporal()))
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, access_log=False))
    task = asyncio.create_task(server.serve())
    url = f"http://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient(base_url=url) as http:
            for _ in range(200):
                with contextlib.suppress(httpx.TransportError):
                    if (await http.get("/openapi.json")).status_code == 200:
                        break
                await asyncio.sleep(0.05)
        yield url
    finally:
        server.should_exit = True
        with contextlib.suppress(asyncio.CancelledError, TimeoutError):
            await asyncio.wait_for(task, timeout=10)


async def _chromium(binary: str, profile: Path, proxy_port: int, *args: str) -> str:
    """Run headless Chromium once; its stdout (the DOM for --dump-dom)."""
    command = [
        binary,
        "--headless",
        *QUIET_FLAGS,
        f"--user-data-dir={profile}",
        # the API under an intranet name, as a bank sees it (Swagger UI treats localhost apart)
        f"--host-resolver-rules=MAP {INTRANET_HOST} 127.0.0.1",
        # everything else goes to the tripwire
        f"--proxy-server=http://127.0.0.1:{proxy_port}",
        f"--proxy-bypass-list={INTRANET_HOST}",
        "--window-size=1280,1800",
        "--virtual-time-budget=10000",
        *args,
    ]
    process = await asyncio.create_subprocess_exec(
        *command, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    try:
        out, err = await asyncio.wait_for(process.communicate(), timeout=BROWSER_SECONDS)
    except TimeoutError:
        process.kill()
        await process.wait()
        raise
    assert process.returncode == 0, err.decode(errors="replace")[-2000:]
    return out.decode(errors="replace")


async def _render(binary: str, tmp_path: Path, wire: Tripwire, api_url: str, page: str, name: str) -> str:
    """The page's DOM once it rendered, and a screenshot of it under tmp_path; the page is
    loaded from the API under its intranet name."""
    url = f"http://{INTRANET_HOST}:{api_url.rsplit(':', 1)[1]}{page}"
    dom = await _chromium(binary, tmp_path / f"profile-{name}", wire.port, "--dump-dom", url)
    shot = tmp_path / f"{name}.png"
    await _chromium(binary, tmp_path / f"profile-{name}-shot", wire.port, f"--screenshot={shot}", url)
    assert shot.is_file() and shot.stat().st_size > 10_000, f"no screenshot of {url}"
    return dom


async def test_pages_name_no_outside_asset(api_url: str) -> None:
    async with httpx.AsyncClient(base_url=api_url) as http:
        for page in ("/docs", "/redoc"):
            html = (await http.get(page)).text
            assert "http://" not in html and "https://" not in html, html
            for asset in ("swagger-ui-bundle.js", "swagger-ui.css", "redoc.standalone.js"):
                assert (await http.get(f"/static-offline-docs/{asset}")).status_code == 200


async def test_swagger_ui_renders_offline(chromium: str, api_url: str, tripwire: Tripwire, tmp_path: Path) -> None:
    dom = await _render(chromium, tmp_path, tripwire, api_url, "/docs", "docs")
    assert 'class="swagger-ui"' in dom
    assert "opblock" in dom, "Swagger UI listed no operation"
    for path in ("/v1/applications", "/v1/applications/{application_id}/decision", "/v1/events"):
        assert path in dom, f"{path} is not on the rendered /docs page"
    assert "政采贷 platform API" in dom
    assert asked_by_page(tripwire.requests) == [], f"the page asked the outside world: {tripwire.requests}"


async def test_redoc_renders_offline(chromium: str, api_url: str, tripwire: Tripwire, tmp_path: Path) -> None:
    dom = await _render(chromium, tmp_path, tripwire, api_url, "/redoc", "redoc")
    assert "/v1/applications" in dom, "ReDoc rendered no operation"
    assert "/v1/events" in dom
    assert "政采贷 platform API" in dom
    assert asked_by_page(tripwire.requests) == [], f"the page asked the outside world: {tripwire.requests}"
