"""The procurement system, through its simulator's test hooks (API.md "The local stack's
hand-off file"): it holds the contracts, and the purchaser answers the payee change there
(the simulator then calls the platform back, signed)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any, Literal

import httpx

from domain.contracts import Contract, ContractStatus, Purchaser, Supplier
from domain.credit_code import make_credit_code
from outside_world.calls import ONCE, Retry, expect, send

SUPPLIER_NAME = "无锡某某科技有限公司"
PURCHASER = Purchaser(code="WX-LX-EDU", name="无锡市梁溪区教育局", district="梁溪区")


def fresh_contract(prefix: str, amount: Decimal, *, purchaser: Purchaser = PURCHASER) -> Contract:
    """An effective contract no one has seen: a new number, supplier (a valid credit code) and
    payee account; signed 2026-09-01, to be paid 2027-03-31, nothing paid yet."""
    return Contract(
        contract_no=f"{prefix}{uuid.uuid4().hex[:8].upper()}",
        project_name="智慧校园设备采购",
        purchaser=purchaser,
        supplier=Supplier(
            credit_code=make_credit_code("91320200", f"{uuid.uuid4().int % 100_000_000:08d}"), name=SUPPLIER_NAME
        ),
        amount=amount,
        paid_amount=Decimal("0.00"),
        signed_on=date(2026, 9, 1),
        expected_payment_date=date(2027, 3, 31),
        status=ContractStatus.EFFECTIVE,
        payee_account_no=f"6217{uuid.uuid4().int % 10**12:012d}",
    )


@dataclass
class Procurement:
    http: httpx.AsyncClient
    simulator: str

    async def create_contract(self, contract: Contract, *, retry: Retry = ONCE) -> None:
        answer = await send(
            self.http, "POST", f"{self.simulator}/sim/contracts", json=contract.model_dump(mode="json"), retry=retry
        )
        expect(answer, 201, f"POST /sim/contracts {contract.contract_no}")

    async def contract(self, contract_no: str) -> dict[str, Any] | None:
        """The contract as the procurement system shows it now (payee, pending changes); None if unknown."""
        answer = await send(self.http, "GET", f"{self.simulator}/sim/contracts/{contract_no}")
        if answer.status_code == 404:
            return None
        state: dict[str, Any] = expect(answer, 200, f"GET /sim/contracts/{contract_no}")
        return state

    async def purchaser_answers(
        self, contract_no: str, decision: Literal["confirmed", "refused"], *, retry: Retry = ONCE
    ) -> dict[str, Any]:
        """The purchaser confirms or refuses the pending payee change: `{event_id, …,
        platform_status}` (None: the platform's answer was not heard); 409 when none is pending."""
        path = f"/sim/contracts/{contract_no}/account-change"
        answer = await send(self.http, "POST", f"{self.simulator}{path}", json={"decision": decision}, retry=retry)
        result: dict[str, Any] = expect(answer, 200, f"POST {path}")
        return result

    async def redeliver(self, event_id: str, *, retry: Retry = ONCE) -> httpx.Response:
        """The procurement system calls the platform again with an event it sent."""
        return await send(self.http, "POST", f"{self.simulator}/sim/events/{event_id}/redeliver", json={}, retry=retry)
