"""Everyone outside the platform, from one hand-off and one HTTP client."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import httpx

from outside_world.bank import Bank
from outside_world.bank_systems import BankSystems
from outside_world.handoff import Handoff
from outside_world.ops import Ops
from outside_world.procurement import Procurement
from outside_world.treasury import Treasury


@dataclass
class OutsideWorld:
    handoff: Handoff
    http: httpx.AsyncClient

    @classmethod
    @asynccontextmanager
    async def connected(
        cls, handoff: Handoff, *, request_timeout: float = 30.0, max_connections: int = 100
    ) -> AsyncIterator[OutsideWorld]:
        limits = httpx.Limits(max_connections=max_connections)
        async with httpx.AsyncClient(timeout=request_timeout, limits=limits) as http:
            yield cls(handoff, http)

    def bank(self, bank_code: str) -> Bank:
        return Bank(self.http, self.handoff.api, bank_code, self.handoff.bank_keys[bank_code])

    @property
    def ops(self) -> Ops:
        return Ops(self.http, self.handoff.api, self.handoff.ops_key)

    @property
    def treasury(self) -> Treasury:
        return Treasury(self.http, self.handoff.api, self.handoff.treasury, self.handoff.treasury_secret)

    @property
    def procurement(self) -> Procurement:
        return Procurement(self.http, self.handoff.procurement)

    @property
    def bank_systems(self) -> BankSystems:
        return BankSystems(self.http, self.handoff.bank)
