"""`/docs` (Swagger UI) and `/redoc` (ReDoc) that work on a network with no way out.

FastAPI's own pages load their scripts from a public CDN, which a bank's intranet cannot
reach. `fastapi-offline` serves the same assets from the Python package itself (under
`/static-offline-docs/`). Two details of the assets still reach out, and are closed here:

- Swagger UI's validator badge (in its standalone layout, off localhost) would ask
  `validator.swagger.io`: `validatorUrl` None turns it off whatever the layout;
- ReDoc's sidebar shows a logo from `cdn.redoc.ly`, unconditionally: the pages answer with a
  Content-Security-Policy that allows this origin only, so the browser never asks (ReDoc then
  leaves the logo out).

The platform API and the simulators build their FastAPI app with `offline_docs_app`.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi_offline import FastAPIOffline
from starlette.types import ASGIApp, Message, Receive, Scope, Send

DOCS_PATHS = ("/docs", "/redoc")

# the pages' own scripts start with an inline <script>; React and ReDoc set inline styles;
# ReDoc's search runs in a worker made from a blob: URL
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self' data:; connect-src 'self'; worker-src 'self' blob:; "
    "frame-ancestors 'self'; base-uri 'self'; form-action 'self'"
)


class SameOriginDocs:
    """ASGI middleware: the documentation pages may load nothing from another origin."""

    def __init__(self, app: ASGIApp, paths: tuple[str, ...] = DOCS_PATHS) -> None:
        self.app = app
        self.paths = paths

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("path") not in self.paths:
            await self.app(scope, receive, send)
            return

        async def send_with_policy(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [
                    *message.get("headers", []),
                    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
                ]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_policy)


def offline_docs_app(**kwargs: Any) -> FastAPI:
    """`FastAPI(**kwargs)` whose `/docs` and `/redoc` need nothing but this server."""
    kwargs["swagger_ui_parameters"] = {**(kwargs.get("swagger_ui_parameters") or {}), "validatorUrl": None}
    app = FastAPIOffline(**kwargs)
    app.add_middleware(SameOriginDocs)
    return app
