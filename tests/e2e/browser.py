"""Headless Chromium driven through the DevTools protocol, for tests that use a page as a person
does: tap, type, wait for what appears, take screenshots.

Debian's `chromium` speaks the protocol over a pair of pipes (`--remote-debugging-pipe`: commands
on its fd 3, answers and events on its fd 4, each message a JSON text ended by NUL), so nothing
beyond the standard library is needed — no websocket client, no browser download. The page is
emulated as a phone (390×844 CSS pixels, touch, a mobile viewport); taps are real pointer events
at the element's centre, so an element covered by another or outside the screen is not tapped.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import fcntl
import json
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

COMMAND_SECONDS = 30.0
START_SECONDS = 90.0  # a loaded CI machine starts a browser slowly


class BrowserError(AssertionError):
    pass


class Browser:
    def __init__(self, process: asyncio.subprocess.Process, reader: asyncio.StreamReader, writer: Any) -> None:
        self.process = process
        self._reader = reader
        self._writer = writer
        self._ids = 0
        self._waiting: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self.events: list[dict[str, Any]] = []
        self._pump = asyncio.create_task(self._read(), name="cdp-reader")

    async def _read(self) -> None:
        with contextlib.suppress(asyncio.IncompleteReadError, ConnectionError):
            while True:
                message = json.loads((await self._reader.readuntil(b"\0"))[:-1])
                waiting = self._waiting.pop(message.get("id", -1), None)
                if waiting is not None and not waiting.done():
                    waiting.set_result(message)
                elif "method" in message:
                    self.events.append(message)

    async def send(
        self,
        method: str,
        params: dict[str, Any] | None = None,
        session: str | None = None,
        within: float = COMMAND_SECONDS,
    ) -> Any:
        self._ids += 1
        message: dict[str, Any] = {"id": self._ids, "method": method, "params": params or {}}
        if session is not None:
            message["sessionId"] = session
        answer: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._waiting[self._ids] = answer
        self._writer.write(json.dumps(message).encode() + b"\0")
        try:
            reply = await asyncio.wait_for(answer, within)
        except TimeoutError:
            raise BrowserError(
                f"{method}: no answer within {within:.0f} s (browser exit code {self.process.returncode})"
            ) from None
        if "error" in reply:
            raise BrowserError(f"{method}: {reply['error']}")
        return reply.get("result", {})

    async def phone_page(self, width: int = 390, height: int = 844) -> Page:
        targets = (await self.send("Target.getTargets"))["targetInfos"]
        target = next((t["targetId"] for t in targets if t["type"] == "page"), None)
        if target is None:
            target = (await self.send("Target.createTarget", {"url": "about:blank"}))["targetId"]
        session = (await self.send("Target.attachToTarget", {"targetId": target, "flatten": True}))["sessionId"]
        page = Page(self, session)
        for domain in ("Page", "Runtime", "Log"):
            await page.send(f"{domain}.enable")
        await page.send(
            "Emulation.setDeviceMetricsOverride",
            {"width": width, "height": height, "deviceScaleFactor": 2, "mobile": True},
        )
        await page.send("Emulation.setTouchEmulationEnabled", {"enabled": True, "maxTouchPoints": 5})
        return page

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.send("Browser.close"), 5)
        try:
            await asyncio.wait_for(self.process.wait(), 10)
        except TimeoutError:
            self.process.kill()
            await self.process.wait()
        self._pump.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._pump
        self._writer.close()


class Page:
    def __init__(self, browser: Browser, session: str) -> None:
        self.browser = browser
        self.session = session

    async def send(self, method: str, params: dict[str, Any] | None = None) -> Any:
        return await self.browser.send(method, params, self.session)

    def problems(self) -> list[str]:
        """Script errors and console errors the page produced (a CSP refusal is one)."""
        found = []
        for event in self.browser.events:
            if event.get("sessionId") != self.session:
                continue
            params = event.get("params", {})
            if event["method"] == "Runtime.exceptionThrown":
                found.append(str(params.get("exceptionDetails", {}).get("exception", {}).get("description")))
            elif event["method"] == "Log.entryAdded" and params.get("entry", {}).get("level") == "error":
                found.append(str(params["entry"].get("text")))
            elif event["method"] == "Runtime.consoleAPICalled" and params.get("type") == "error":
                found.append(json.dumps(params.get("args"))[:300])
        return found

    async def goto(self, url: str) -> None:
        await self.send("Page.navigate", {"url": url})

    async def evaluate(self, expression: str) -> Any:
        answer = await self.send(
            "Runtime.evaluate", {"expression": expression, "returnByValue": True, "awaitPromise": True}
        )
        if "exceptionDetails" in answer:
            raise BrowserError(f"{expression[:80]}: {answer['exceptionDetails']}")
        return answer["result"].get("value")

    async def wait_for(self, expression: str, *, within: float = 30.0, what: str | None = None) -> Any:
        """Until `expression` is truthy in the page (re-checked, bounded): its value."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within
        # an element found is "true" (a DOM node does not travel by value)
        checked = f"(() => {{ const v = ({expression}); return v instanceof Node ? true : v; }})()"
        while True:
            with contextlib.suppress(BrowserError):  # a page in the middle of navigating
                value = await self.evaluate(checked)
                if value:
                    return value
            if loop.time() > deadline:
                text = await self.evaluate("document.body ? document.body.innerText.slice(0, 1500) : ''")
                raise BrowserError(f"not within {within:.0f} s: {what or expression}\npage says: {text}")
            await asyncio.sleep(0.1)  # polling the page for a condition, bounded by `within`

    async def tap(self, selector: str) -> None:
        """A finger's tap at the centre of the (first visible) element matching `selector`."""
        where = await self.wait_for(
            f"""(() => {{
              const el = [...document.querySelectorAll({json.dumps(selector)})].find(e => e.offsetParent !== null);
              if (!el) return null;
              el.scrollIntoView({{block: 'center'}});
              const r = el.getBoundingClientRect();
              return {{x: r.left + r.width / 2, y: r.top + r.height / 2}};
            }})()""",
            what=f"a visible {selector}",
        )
        for kind in ("mousePressed", "mouseReleased"):
            await self.send(
                "Input.dispatchMouseEvent",
                {"type": kind, "x": where["x"], "y": where["y"], "button": "left", "clickCount": 1},
            )

    async def type(self, selector: str, text: str) -> None:
        """Clear the field and type `text` into it, as a keyboard would."""
        await self.wait_for(f"document.querySelector({json.dumps(selector)})", what=selector)
        await self.evaluate(
            f"(() => {{ const el = document.querySelector({json.dumps(selector)}); el.value = ''; el.focus(); }})()"
        )
        await self.send("Input.insertText", {"text": text})

    async def screenshot(self, path: Path) -> Path:
        await asyncio.sleep(0.05)  # let the tap's repaint land: a picture, not a condition
        shot = await self.send("Page.captureScreenshot", {"format": "png", "captureBeyondViewport": False})
        path.write_bytes(base64.b64decode(shot["data"]))  # noqa: ASYNC240 (a test tool, a local file)
        return path


# Chromium as the browser tests run it: no sandbox (root in CI), and none of its own traffic
# (updates, sync, safe browsing, metrics), so a tripwire that counts outside requests sees only
# what the page asked for. Every browser test starts from these.
QUIET_FLAGS = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
    "--disable-extensions",
    "--no-first-run",
    "--no-default-browser-check",
    "--metrics-recording-only",
    "--disable-client-side-phishing-detection",
    "--disable-domain-reliability",
    "--disable-features=AutofillServerCommunication,OptimizationHints,MediaRouter,Translate",
    "--no-pings",
)


@contextlib.asynccontextmanager
async def chromium(binary: str, profile: Path, *flags: str) -> AsyncIterator[Browser]:
    """Headless Chromium with the protocol on a pipe pair; stopped when the block ends."""
    to_browser_r, to_browser_w = os.pipe()
    from_browser_r, from_browser_w = os.pipe()
    argv = [
        binary,
        "--headless",
        *QUIET_FLAGS,
        "--remote-debugging-pipe",
        f"--user-data-dir={profile}",
        "--window-size=390,844",
        *flags,
        "about:blank",
    ]

    def onto_fds_3_and_4() -> None:  # in the child: the browser reads commands on fd 3, writes on fd 4
        high_r = fcntl.fcntl(to_browser_r, fcntl.F_DUPFD, 100)  # out of the way of 3 and 4 first
        high_w = fcntl.fcntl(from_browser_w, fcntl.F_DUPFD, 100)
        os.dup2(high_r, 3)
        os.dup2(high_w, 4)

    process = await asyncio.create_subprocess_exec(
        *argv,
        pass_fds=(3, 4),
        preexec_fn=onto_fds_3_and_4,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    os.close(to_browser_r)
    os.close(from_browser_w)
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=64 * 1024 * 1024)  # a screenshot is one message
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), os.fdopen(from_browser_r, "rb", 0))
    writer, _ = await loop.connect_write_pipe(asyncio.Protocol, os.fdopen(to_browser_w, "wb", 0))
    browser = Browser(process, reader, writer)
    try:
        await browser.send("Browser.getVersion", within=START_SECONDS)  # the browser is up
        yield browser
    finally:
        await browser.close()
