"""The treasury's payment system (国库集中支付), simulated: it keeps the payee-account locks
the platform registers (the treasury side of 三网融合) and pays contract money into the
contract's payee account as the procurement system records it, notifying the platform.

Own API (faults apply; every POST needs an `Idempotency-Key`):
- `POST /payee-locks` `{application_id, contract_no, account_no, bank_code}` → 201 the lock
  (200 when this application already holds it). 409 `contract_already_financed` with a `holder`
  member when another application holds a lock on the contract; 409 `invalid_state` when this
  application asks to lock a different account than the one it locked.
- `POST /payee-locks/{contract_no}/release` `{application_id, reason}` → 200 `{"status":
  "released" | "not_held"}` (releasing what is not held is a no-op).
- `GET  /payee-locks/{contract_no}` → the active lock, or 404 `not_found`.

Test hooks (never faulted):
- `POST /sim/pay` `{"contract_no", "amount"}` plus optional `"payment_id"`, `"paid_on"` (default:
  today in Asia/Shanghai) and `"payee_account_no"` (forces a payment into another account, e.g. a
  misdirected one). Reads the contract's current payee account from the procurement system over
  HTTP, records the payment (ids like `T20270331-0001`), tells the procurement system of it
  (`POST {procurement_url}/sim/contracts/{no}/payments`, idempotent by payment_id, so the
  contract's `paid_amount` grows as in the joined systems), sends the signed notification
  `POST {api_url}/v1/treasury/payments` and answers `{"payment_id", "payee_account_no",
  "platform_status", "procurement_paid_amount", …}` (`platform_status` null when the platform did
  not answer; `procurement_paid_amount` null when the procurement system could not be told). A
  `payment_id` already paid is not paid again: the procurement system is told again (a no-op once
  it knows) and the notification is re-sent unchanged (a duplicate delivery).
- `GET /sim/payments?contract_no=` → `{"items": [...]}`, every payment made.
"""

from __future__ import annotations

import asyncio
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import structlog
from fastapi import APIRouter, FastAPI
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from domain.money import Money, money_str
from domain.settings import Settings
from simulators.callbacks import CallbackOutcome, Outbound, send_signed
from simulators.clock import now, today
from simulators.idempotency import Answer, IdempotencyKey, IdempotentAnswers, StoredAnswer
from simulators.problems import SimulatorError, contract_not_found, invalid_state, not_found, validation_error
from simulators.service import new_system_app
from simulators.state import Change, StateStore

log = structlog.get_logger("simulators.treasury")

PAYMENTS_PATH = "/v1/treasury/payments"
PROCUREMENT_ATTEMPTS = 3


class LockRequest(BaseModel):
    application_id: str = Field(min_length=1, max_length=128)
    contract_no: str = Field(min_length=1, max_length=64)
    account_no: str = Field(min_length=1, max_length=34)
    bank_code: str = Field(min_length=1, max_length=32)


class UnlockRequest(BaseModel):
    application_id: str = Field(min_length=1, max_length=128)
    reason: str | None = Field(default=None, max_length=500)


class LockEntry(LockRequest):
    lock_id: str
    locked_at: datetime
    released_at: datetime | None = None
    release_reason: str | None = None


class PayRequest(BaseModel):
    contract_no: str = Field(min_length=1, max_length=64)
    amount: Money
    payment_id: str | None = Field(default=None, min_length=1, max_length=128)
    paid_on: date | None = None
    payee_account_no: str | None = Field(default=None, min_length=1, max_length=34)


class PaymentEntry(BaseModel):
    payment_id: str
    contract_no: str
    payee_account_no: str
    amount: Money
    paid_on: date
    paid_at: datetime
    notifications: list[CallbackOutcome] = Field(default_factory=list)

    def notification(self) -> dict[str, Any]:
        return {
            "payment_id": self.payment_id,
            "contract_no": self.contract_no,
            "payee_account_no": self.payee_account_no,
            "amount": money_str(self.amount),
            "paid_on": self.paid_on.isoformat(),
        }


class PayAnswer(BaseModel):
    payment_id: str
    contract_no: str
    payee_account_no: str
    amount: Money
    paid_on: date
    platform_status: str | None
    platform_http_status: int | None
    procurement_paid_amount: Money | None = None


class TreasuryState(BaseModel):
    locks: dict[str, LockEntry] = Field(default_factory=dict)  # active ones, by contract
    released_locks: list[LockEntry] = Field(default_factory=list)
    payments: dict[str, PaymentEntry] = Field(default_factory=dict)
    payments_per_day: dict[str, int] = Field(default_factory=dict)
    sequence: int = 0
    idempotency: dict[str, StoredAnswer] = Field(default_factory=dict)


class Items(BaseModel):
    items: list[dict[str, Any]]


class TreasurySimulator:
    def __init__(self, settings: Settings, state_file: Path | None) -> None:
        self.settings = settings
        self.store = StateStore(TreasuryState, state_file)
        self.answers = IdempotentAnswers(self.store.state.idempotency, self.store.save)
        self.outbound = Outbound(settings.http_timeout_seconds)

    @property
    def state(self) -> TreasuryState:
        return self.store.state

    def lock(self, request: LockRequest) -> Answer:
        held = self.state.locks.get(request.contract_no)
        if held is not None and held.application_id != request.application_id:
            raise SimulatorError(
                409,
                "contract_already_financed",
                f"contract {request.contract_no} is locked by another financing",
                {"holder": {"application_id": held.application_id, "bank_code": held.bank_code}},
            )
        if held is not None:
            if held.account_no != request.account_no:
                raise invalid_state("this application locked another account; release it first")
            return Answer(status_code=200, body=_lock_body(held), changed=[])
        self.state.sequence += 1
        entry = LockEntry(lock_id=f"L{self.state.sequence:06d}", locked_at=now(), **request.model_dump())
        self.state.locks[request.contract_no] = entry
        log.info("payee_lock.registered", contract_no=request.contract_no, application_id=request.application_id)
        changed: list[Change] = [("locks", request.contract_no), "sequence"]
        return Answer(status_code=201, body=_lock_body(entry), changed=changed)

    def unlock(self, contract_no: str, request: UnlockRequest) -> Answer:
        held = self.state.locks.get(contract_no)
        if held is None or held.application_id != request.application_id:
            return Answer(status_code=200, body={"status": "not_held"}, changed=[])
        del self.state.locks[contract_no]
        held.released_at, held.release_reason = now(), request.reason
        self.state.released_locks.append(held)
        log.info("payee_lock.released", contract_no=contract_no, application_id=request.application_id)
        changed: list[Change] = [("locks", contract_no), ("released_locks", len(self.state.released_locks) - 1)]
        return Answer(status_code=200, body={"status": "released"}, changed=changed)

    async def current_payee_account(self, contract_no: str) -> str | None:
        """The contract's payee account as the procurement system has it; None: no such contract."""
        url = f"{self.settings.procurement_url.rstrip('/')}/contracts/{quote(contract_no, safe='')}"
        problem = "no answer"
        client = self.outbound.client
        for attempt in range(PROCUREMENT_ATTEMPTS):
            try:
                response = await client.get(url)
            except httpx.HTTPError as exc:
                problem = type(exc).__name__
            else:
                if response.status_code == 404:
                    return None
                if response.status_code == 200:
                    return str(response.json()["payee_account_no"])
                problem = f"HTTP {response.status_code}"
            if attempt + 1 < PROCUREMENT_ATTEMPTS:
                await asyncio.sleep(0.05 * (attempt + 1))
        raise SimulatorError(502, "procurement_unavailable", f"the procurement system did not answer ({problem})")

    async def tell_procurement(self, entry: PaymentEntry) -> Decimal | None:
        """Tell the procurement system of a payment made on its contract; the contract's
        paid_amount after it, or None when the procurement system could not be told (the
        payment stands: money paid is paid; telling again later is harmless)."""
        url = f"{self.settings.procurement_url.rstrip('/')}/sim/contracts/{quote(entry.contract_no, safe='')}/payments"
        body = {"payment_id": entry.payment_id, "amount": money_str(entry.amount), "paid_on": entry.paid_on.isoformat()}
        problem = "no answer"
        client = self.outbound.client
        for attempt in range(PROCUREMENT_ATTEMPTS):
            try:
                response = await client.post(url, json=body)
            except httpx.HTTPError as exc:
                problem = type(exc).__name__
            else:
                if response.status_code in (200, 201):
                    return Decimal(response.json()["paid_amount"])
                problem = f"HTTP {response.status_code}"
                if response.status_code < 500:
                    break  # the contract is gone or the body refused: asking again changes nothing
            if attempt + 1 < PROCUREMENT_ATTEMPTS:
                await asyncio.sleep(0.05 * (attempt + 1))
        log.warning("payment.procurement_not_told", payment_id=entry.payment_id, problem=problem)
        return None

    def record_payment(self, request: PayRequest, payee_account_no: str) -> PaymentEntry:
        if request.payment_id is not None and request.payment_id in self.state.payments:
            return self.state.payments[request.payment_id]  # paid meanwhile by a concurrent call
        paid_on = request.paid_on or today()
        payment_id = request.payment_id
        if payment_id is None:
            day = paid_on.isoformat()
            self.state.payments_per_day[day] = self.state.payments_per_day.get(day, 0) + 1
            payment_id = f"T{paid_on:%Y%m%d}-{self.state.payments_per_day[day]:04d}"
        entry = PaymentEntry(
            payment_id=payment_id,
            contract_no=request.contract_no,
            payee_account_no=payee_account_no,
            amount=request.amount,
            paid_on=paid_on,
            paid_at=now(),
        )
        self.state.payments[payment_id] = entry
        self.store.save(("payments", payment_id), "payments_per_day")
        log.info("payment.made", payment_id=payment_id, contract_no=request.contract_no, amount=str(request.amount))
        return entry

    async def pay(self, request: PayRequest) -> PayAnswer:
        entry = self.state.payments.get(request.payment_id) if request.payment_id else None
        if entry is None:
            if request.amount <= 0:
                raise validation_error("amount must be greater than 0")
            payee = await self.current_payee_account(request.contract_no)
            if payee is None and request.payee_account_no is None:
                raise contract_not_found(request.contract_no)
            entry = self.record_payment(request, request.payee_account_no or payee or "")
        # procurement first: once the platform has the notice, the contract shows it paid too
        paid_amount = await self.tell_procurement(entry)
        outcome = await send_signed(
            self.outbound,
            self.settings.api_url.rstrip("/") + PAYMENTS_PATH,
            self.settings.treasury_secret,
            entry.notification(),
        )
        entry.notifications.append(outcome)
        self.store.save(("payments", entry.payment_id))
        return PayAnswer(
            **entry.model_dump(include={"payment_id", "contract_no", "payee_account_no", "amount", "paid_on"}),
            platform_status=outcome.status,
            platform_http_status=outcome.http_status,
            procurement_paid_amount=paid_amount,
        )


def _lock_body(entry: LockEntry) -> dict[str, Any]:
    return entry.model_dump(mode="json", exclude={"released_at", "release_reason"})


def create_treasury_app(
    settings: Settings, state_file: Path | None = None, *, fault_seed: int | None = None
) -> FastAPI:
    sim = TreasurySimulator(settings, state_file)
    app = new_system_app("treasury", "Treasury payment system (simulator)", __doc__ or "", fault_seed=fault_seed)
    app.state.simulator = sim
    app.state.closing = [sim.outbound.aclose]  # when the server stops (simulators/main.py)
    app.include_router(_own_api(sim))
    app.include_router(_hooks(sim))
    return app


def _own_api(sim: TreasurySimulator) -> APIRouter:
    router = APIRouter(tags=["treasury"])

    @router.post("/payee-locks", status_code=201)
    async def lock(body: LockRequest, key: IdempotencyKey) -> JSONResponse:
        return sim.answers.answer(key, "payee-lock", body, lambda: sim.lock(body))

    @router.post("/payee-locks/{contract_no}/release")
    async def unlock(contract_no: str, body: UnlockRequest, key: IdempotencyKey) -> JSONResponse:
        return sim.answers.answer(key, f"release {contract_no}", body, lambda: sim.unlock(contract_no, body))

    @router.get("/payee-locks/{contract_no}")
    async def get_lock(contract_no: str) -> dict[str, Any]:
        held = sim.state.locks.get(contract_no)
        if held is None:
            raise not_found(f"a payee-account lock on contract {contract_no}")
        return _lock_body(held)

    return router


def _hooks(sim: TreasurySimulator) -> APIRouter:
    router = APIRouter(prefix="/sim", tags=["sim"])

    @router.post("/pay")
    async def pay(body: PayRequest) -> PayAnswer:
        return await sim.pay(body)

    @router.get("/payments")
    async def payments(contract_no: str | None = None) -> Items:
        chosen = [p for p in sim.state.payments.values() if contract_no is None or p.contract_no == contract_no]
        return Items(items=[p.model_dump(mode="json", exclude={"notifications"}) for p in chosen])

    return router
