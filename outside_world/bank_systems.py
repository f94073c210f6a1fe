"""The banks' own systems, through the bank simulator's test hooks: what their core system paid
out and captured, the faults it injects into its own API, and each bank's book as it built it
from the platform's event feed (simulators/bank_feed.py)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx

from outside_world.calls import ONCE, Retry, expect, send


@dataclass
class BankSystems:
    http: httpx.AsyncClient
    simulator: str

    async def _items(self, path: str, retry: Retry = ONCE, **filters: str | None) -> list[dict[str, Any]]:
        params = {k: v for k, v in filters.items() if v is not None}
        answer = await send(self.http, "GET", f"{self.simulator}{path}", params=params or None, retry=retry)
        return list(expect(answer, 200, f"GET {path}")["items"])

    async def disbursements(
        self, contract_no: str | None = None, application_id: str | None = None, *, retry: Retry = ONCE
    ) -> list[dict[str, Any]]:
        """Every payout the bank executed (for the contract or application given)."""
        return await self._items("/sim/disbursements", retry, contract_no=contract_no, application_id=application_id)

    async def repayments(
        self, contract_no: str | None = None, application_id: str | None = None
    ) -> list[dict[str, Any]]:
        return await self._items("/sim/repayments", contract_no=contract_no, application_id=application_id)

    async def credit_applications(
        self, application_id: str | None = None, bank_code: str | None = None
    ) -> list[dict[str, Any]]:
        return await self._items("/sim/credit-applications", application_id=application_id, bank_code=bank_code)

    async def faults(self, **settings: Any) -> dict[str, Any]:
        """`POST /sim/faults` (error_rate, latency_ms, outage); no settings: faults off."""
        answer = await send(self.http, "POST", f"{self.simulator}/sim/faults", json=settings)
        result: dict[str, Any] = expect(answer, 200, "POST /sim/faults")
        return result

    async def book(self, bank_code: str | None = None, *, loans: bool = False) -> dict[str, Any]:
        """`GET /sim/book`: each bank's book built from its event feed alone, and where it is;
        `loans`: with every application in it and its events in the order applied."""
        params = ({"bank_code": bank_code} if bank_code else {}) | ({"loans": "true"} if loans else {})
        answer = await send(self.http, "GET", f"{self.simulator}/sim/book", params=params or None)
        book: dict[str, Any] = expect(answer, 200, "GET /sim/book")
        return book
