"""Operations as the platform's ops endpoints know them (API.md "Operations and oversight"):
the bureau's figures, what needs a person, and the purchaser's answer given offline."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any, Literal

import httpx

from outside_world.calls import expect, send


@dataclass
class Ops:
    http: httpx.AsyncClient
    api: str
    key: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}"}

    async def _get(self, path: str, params: dict[str, Any] | None = None) -> Any:
        answer = await send(self.http, "GET", f"{self.api}{path}", headers=self.headers, params=params)
        return expect(answer, 200, f"GET {path}")

    async def stats(self, start: date | None = None, end: date | None = None) -> dict[str, Any]:
        params = {k: v.isoformat() for k, v in (("from", start), ("to", end)) if v is not None}
        stats: dict[str, Any] = await self._get("/v1/stats", params or None)
        return stats

    async def stuck(self) -> list[dict[str, Any]]:
        """Every process GET /v1/ops/stuck lists now (all its pages)."""
        items: list[dict[str, Any]] = []
        cursor: str | None = None
        while True:
            page = await self._get("/v1/ops/stuck", {"cursor": cursor} if cursor else None)
            items += page["items"]
            cursor = page.get("next_cursor")
            if not cursor or not page["items"]:
                return items

    async def application(self, application_id: str) -> dict[str, Any]:
        view: dict[str, Any] = await self._get(f"/v1/applications/{application_id}")
        return view

    async def payments(self, status: Literal["unmatched", "misdirected"]) -> list[dict[str, Any]]:
        page = await self._get("/v1/ops/payments", {"status": status})
        return list(page["items"])

    async def record_lock_answer(
        self, application_id: str, decision: Literal["confirmed", "refused"], note: str
    ) -> dict[str, Any]:
        """The purchaser's answer given offline, recorded by ops."""
        path = f"/v1/ops/applications/{application_id}/account-lock"
        answer = await send(
            self.http, "POST", f"{self.api}{path}", json={"decision": decision, "note": note}, headers=self.headers
        )
        view: dict[str, Any] = expect(answer, 200, f"POST {path}")
        return view
