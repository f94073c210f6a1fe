"""`GET /supplier/`: the supplier's pages (API.md v1.1 "Suppliers"), mobile first, in Chinese.

A small page of plain HTML, CSS and JavaScript kept in `api/supplier_pages/` and served by the
API itself, talking only to `/v1/supplier/*` on the same origin: nothing comes from a CDN, and
the Content-Security-Policy says so to the browser (only this origin, no inline script)."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import RedirectResponse, Response

PAGES = Path(__file__).resolve().parent.parent / "supplier_pages"
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "font-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)
_FILES = {
    "index.html": "text/html; charset=utf-8",
    "app.js": "text/javascript; charset=utf-8",
    "app.css": "text/css; charset=utf-8",
}

router = APIRouter(include_in_schema=False)


def _page(name: str) -> Response:
    body = (PAGES / name).read_bytes()
    headers = {
        "Content-Security-Policy": CSP,
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
        "Cache-Control": "no-cache",
    }
    return Response(body, media_type=_FILES[name], headers=headers)


@router.get("/supplier")
async def without_slash() -> RedirectResponse:
    return RedirectResponse("/supplier/", status_code=308)


@router.get("/supplier/")
async def index() -> Response:
    return _page("index.html")


@router.get("/supplier/app.js")
async def script() -> Response:
    return _page("app.js")


@router.get("/supplier/app.css")
async def style() -> Response:
    return _page("app.css")
