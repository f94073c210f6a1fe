"""The treasury: it pays contract money through its simulator's hook (`POST /sim/pay`, which
sends the signed payment notice), or its sender signs a notice straight to the platform
(`POST /v1/treasury/payments`, API.md "Payments" and the signing of "Principals")."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

import httpx

from domain.application import TreasuryPayment
from domain.money import money_str
from domain.signing import SIGNATURE_HEADER, signature_header
from outside_world.calls import ONCE, Attempts, Retry, expect, send


def signed_body(secret: str, payload: dict[str, Any]) -> tuple[bytes, dict[str, str]]:
    raw = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
    return raw, signed_headers(secret, raw)


def signed_headers(secret: str, raw: bytes) -> dict[str, str]:
    """Signed now: the platform refuses a timestamp more than 300 s from its clock."""
    return {"Content-Type": "application/json", SIGNATURE_HEADER: signature_header(secret, int(time.time()), raw)}


@dataclass
class Treasury:
    http: httpx.AsyncClient
    api: str
    simulator: str
    secret: str

    async def pay(
        self,
        contract_no: str,
        amount: Decimal,
        *,
        payment_id: str | None = None,
        paid_on: date | None = None,
        retry: Retry = ONCE,
        attempts: Attempts | None = None,
    ) -> dict[str, Any]:
        """The treasury system pays into the contract's current payee account and notifies the
        platform: `{payment_id, payee_account_no, platform_status}` (None: no answer heard)."""
        body: dict[str, Any] = {"contract_no": contract_no, "amount": money_str(amount)}
        if payment_id is not None:
            body["payment_id"] = payment_id
        if paid_on is not None:
            body["paid_on"] = paid_on.isoformat()
        answer = await send(self.http, "POST", f"{self.simulator}/sim/pay", json=body, retry=retry, attempts=attempts)
        paid: dict[str, Any] = expect(answer, 200, f"POST /sim/pay for {contract_no}")
        return paid

    async def notify(self, payment: TreasuryPayment | dict[str, Any], *, retry: Retry = ONCE) -> httpx.Response:
        """The treasury's signed notice straight to the platform, signed afresh per attempt."""
        payload = payment.model_dump(mode="json") if isinstance(payment, TreasuryPayment) else payment
        raw = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
        return await send(
            self.http,
            "POST",
            f"{self.api}/v1/treasury/payments",
            content=raw,
            sign=lambda: signed_headers(self.secret, raw),
            retry=retry,
        )

    async def notice(
        self, payment_id: str, contract_no: str, payee_account_no: str, amount: Decimal, paid_on: date
    ) -> str:
        """A notice the platform must answer 202: its status (accepted, duplicate, …)."""
        payment = TreasuryPayment(
            payment_id=payment_id,
            contract_no=contract_no,
            payee_account_no=payee_account_no,
            amount=amount,
            paid_on=paid_on,
        )
        return str(expect(await self.notify(payment), 202, f"notice {payment_id}")["status"])

    async def payments(self, contract_no: str | None = None) -> list[dict[str, Any]]:
        """Every payment the treasury simulator made (its test hook)."""
        params = {"contract_no": contract_no} if contract_no else None
        answer = await send(self.http, "GET", f"{self.simulator}/sim/payments", params=params)
        return list(expect(answer, 200, "GET /sim/payments")["items"])
