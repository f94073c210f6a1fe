"""A small client of the Chrome DevTools protocol, to drive Debian's headless Chromium through a
page as a person would (type into a field, press a button, read what is shown, take a
screenshot) — no browser download, no playwright.

Chromium is started with `--remote-debugging-port=0`; the port it chose is in the profile's
`DevToolsActivePort` file. One page target is opened and spoken to over its WebSocket."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import itertools
import json
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

import httpx
from websockets.asyncio.client import ClientConnection, connect

START_SECONDS = 30
CALL_SECONDS = 30


class DevToolsError(AssertionError):
    pass


class Page:
    """One browser tab: `call` sends a protocol command and waits for its answer."""

    def __init__(self, socket: ClientConnection) -> None:
        self._socket = socket
        self._ids = itertools.count(1)
        self._waiting: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self._reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        async for raw in self._socket:
            message = json.loads(raw)
            future = self._waiting.pop(message.get("id", -1), None)
            if future is not None and not future.done():
                future.set_result(message)

    async def call(self, method: str, **params: Any) -> dict[str, Any]:
        number = next(self._ids)
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._waiting[number] = future
        await self._socket.send(json.dumps({"id": number, "method": method, "params": params}))
        answer = await asyncio.wait_for(future, timeout=CALL_SECONDS)
        if "error" in answer:
            raise DevToolsError(f"{method}: {answer['error']}")
        result: dict[str, Any] = answer.get("result", {})
        return result

    async def evaluate(self, expression: str) -> Any:
        """The value of a JavaScript expression in the page (awaited if it is a promise)."""
        result = await self.call("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in result:
            raise DevToolsError(f"{expression[:80]}: {result['exceptionDetails']}")
        return result["result"].get("value")

    async def wait_for(self, expression: str, *, attempts: int = 200) -> Any:
        """Poll (bounded) until the expression is truthy in the page: a condition, not a sleep."""
        for _ in range(attempts):
            with contextlib.suppress(DevToolsError):  # a page being replaced by the next one
                value = await self.evaluate(expression)
                if value:
                    return value
            await asyncio.sleep(0.05)
        raise DevToolsError(f"never true: {expression}")

    async def goto(self, url: str) -> None:
        await self.call("Page.navigate", url=url)
        await self.wait_for("document.readyState === 'complete' && location.href !== 'about:blank'")

    async def type_into(self, selector: str, text: str) -> None:
        """Focus a field and type into it, as a keyboard would insert the text."""
        await self.evaluate(f"document.querySelector({json.dumps(selector)}).focus()")
        await self.call("Input.insertText", text=text)

    async def click(self, selector: str) -> None:
        await self.evaluate(f"document.querySelector({json.dumps(selector)}).click()")

    async def screenshot(self, path: Path, *, full_page: bool = False) -> Path:
        params: dict[str, Any] = {"format": "png"}
        if full_page:
            metrics = await self.call("Page.getLayoutMetrics")
            size = metrics["cssContentSize"]
            params |= {
                "captureBeyondViewport": True,
                "clip": {"x": 0, "y": 0, "width": size["width"], "height": size["height"], "scale": 1},
            }
        shot = await self.call("Page.captureScreenshot", **params)
        path.write_bytes(base64.b64decode(shot["data"]))  # noqa: ASYNC240 (a screenshot, once)
        return path

    async def close(self) -> None:
        self._reader.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await self._reader
        await self._socket.close()


async def _active_port(profile: Path, process: asyncio.subprocess.Process) -> int:
    marker = profile / "DevToolsActivePort"
    for _ in range(START_SECONDS * 20):
        if marker.is_file():
            lines = marker.read_text().splitlines()
            if lines and lines[0].isdigit():
                return int(lines[0])
        if process.returncode is not None:
            raise DevToolsError(f"chromium exited with {process.returncode}")
        await asyncio.sleep(0.05)
    raise DevToolsError("chromium did not open its DevTools port")


@contextlib.asynccontextmanager
async def browser_page(
    binary: str, profile: Path, args: Sequence[str], *, width: int, height: int
) -> AsyncIterator[Page]:
    """Headless Chromium with one page of `width`×`height` CSS pixels; stopped on the way out."""
    profile.mkdir(parents=True, exist_ok=True)  # noqa: ASYNC240 (once, before the browser)
    process = await asyncio.create_subprocess_exec(
        binary,
        "--headless",
        "--remote-debugging-port=0",
        "--remote-debugging-address=127.0.0.1",
        f"--user-data-dir={profile}",
        f"--window-size={width},{height}",
        *args,
        "about:blank",
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    page: Page | None = None
    try:
        port = await _active_port(profile, process)
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", trust_env=False) as http:
            targets = (await http.get("/json/list")).json()
            target = next(t for t in targets if t.get("type") == "page")
        socket = await connect(target["webSocketDebuggerUrl"], max_size=None, proxy=None)
        page = Page(socket)
        await page.call("Page.enable")
        await page.call("Runtime.enable")
        await page.call(
            "Emulation.setDeviceMetricsOverride", width=width, height=height, deviceScaleFactor=1, mobile=False
        )
        yield page
    finally:
        if page is not None:
            await page.close()
        if process.returncode is None:
            process.terminate()
            try:
                await asyncio.wait_for(process.wait(), timeout=10)
            except TimeoutError:
                process.kill()
                await process.wait()
