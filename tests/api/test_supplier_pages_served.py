"""`/supplier/` is served by the API itself: three files of its own, a policy that lets the
browser fetch from this origin only, and nothing naming another host (no CDN)."""

from __future__ import annotations

import re

import httpx


async def test_the_pages_come_from_the_api_and_name_no_other_host(api: httpx.AsyncClient) -> None:
    page = await api.get("/supplier/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    csp = page.headers["content-security-policy"]
    assert "default-src 'self'" in csp and "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert '<html lang="zh-CN">' in page.text and 'name="viewport"' in page.text
    assets = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert set(assets) >= {"/supplier/app.js", "/supplier/app.css"}
    for asset in ("/supplier/app.js", "/supplier/app.css"):
        answer = await api.get(asset)
        assert answer.status_code == 200, asset
        assert not re.search(r"https?://", answer.text), f"{asset} names another host"
    assert not re.search(r"https?://", page.text)
    moved = await api.get("/supplier")
    assert moved.status_code == 308 and moved.headers["location"] == "/supplier/"


async def test_the_pages_are_not_api_operations(api: httpx.AsyncClient) -> None:
    paths = (await api.get("/openapi.json")).json()["paths"]
    assert not [p for p in paths if p.startswith("/supplier")]
