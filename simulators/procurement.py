"""The procurement system (政府采购系统), simulated: contracts, suppliers' histories, the
financing registered on a contract, and the purchaser-confirmed change of a contract's payee
account — the procurement side of 三网融合.

Own API (faults apply; every POST needs an `Idempotency-Key`):
- `GET  /contracts/{no}` → the contract with its current `payee_account_no` (404 `contract_not_found`).
- `GET  /contracts?supplier_credit_code=` → `{"items": [Contract]}`: the supplier's contracts this
  system holds (those created through `/sim/contracts`), newest signed first, each with its current
  payee account.
- `GET  /suppliers/{credit_code}/contracts` → `{"items": [PastContract]}`: a stable made-up history
  derived from the credit code, plus contracts created through `/sim/contracts` for that supplier.
- `POST /contracts/{no}/financing` `{application_id, bank_code, supplier_credit_code, amount}` →
  201 the financing record (200 when this application already holds it). One active financing per
  contract: 409 `contract_already_financed` with a `holder` member when another application holds
  it; 409 `invalid_state` for a contract that is not effective; 422 for a supplier mismatch.
- `GET  /contracts/{no}/financing` → the active `FinancingRecord`, or 404 `not_found`.
- `POST /contracts/{no}/financing/{application_id}/release` `{reason}` → 200 `{"status": "released"
  | "not_held"}`: releasing what is not held is a no-op, so compensation can always run.
- `POST /contracts/{no}/payee-change` `{application_id, account_no, account_name, bank_code}` →
  202 `{change_id, previous_account_no, status}`: the change waits for the purchaser. Asking again
  for the same application returns the same change while it is pending or confirmed. 409
  `invalid_state` while another application's change is pending; 409 `contract_already_financed`
  when another application holds the contract's financing.
- `POST /contracts/{no}/payee-change/{application_id}/offline-answer` `{decision, note}` → 200:
  ops recorded the purchaser's answer given offline; applied without a callback. The same answer
  again is a no-op; a contradicting one is 409 `invalid_state`.
- `POST /contracts/{no}/payee-restore` `{application_id, reason}` → 200 `{"status": "cancelled" |
  "restored" | "nothing_to_restore"}`: cancels this application's pending change or puts back the
  account the contract had before it.

Test hooks (never faulted): `POST /sim/contracts` (a `Contract`, upserted) → 201;
`GET /sim/contracts/{no}` (contract, financing and payee changes); `POST /sim/contracts/{no}/account-change`
`{"decision"}` → applies the purchaser's answer to the pending change and sends the signed callback
`POST {api_url}/v1/procurement/account-changes`, answering what the platform replied (409 when no
change is pending); `POST /sim/events/{event_id}/redeliver` sends a callback again;
`PUT /sim/suppliers/{credit_code}/history` `{"items": [PastContract]}` replaces the made-up history;
`POST /sim/contracts/{no}/payments` `{"payment_id", "amount", "paid_on"}` → 201 `{"status": "recorded",
"paid_amount"}` (200 `"duplicate"` for a payment_id already recorded, which stands as first told): the
treasury tells the procurement system of each payment it made on the contract, as the joined systems
do, and the contract's `paid_amount` grows by it.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any, Literal

import structlog
from fastapi import APIRouter, FastAPI
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from domain.contracts import Contract, ContractStatus, FinancingRecord, PastContract
from domain.money import Money
from domain.settings import Settings
from simulators.callbacks import CallbackOutcome, Outbound, send_signed
from simulators.clock import now
from simulators.history import as_past_contract, generated_history
from simulators.idempotency import Answer, IdempotencyKey, IdempotentAnswers, StoredAnswer
from simulators.problems import SimulatorError, contract_not_found, invalid_state, not_found, validation_error
from simulators.service import new_system_app
from simulators.state import Change, StateStore, position

log = structlog.get_logger("simulators.procurement")

ACCOUNT_CHANGES_PATH = "/v1/procurement/account-changes"


# ---- state -------------------------------------------------------------------------------


class FinancingEntry(BaseModel):
    contract_no: str
    application_id: str
    bank_code: str
    supplier_credit_code: str
    amount: Money
    registered_at: datetime
    released_at: datetime | None = None
    release_reason: str | None = None

    def record(self) -> FinancingRecord:
        return FinancingRecord(
            application_id=self.application_id, bank_code=self.bank_code, registered_at=self.registered_at.isoformat()
        )


class ChangeStatus(StrEnum):
    PENDING = "pending"
    CONFIRMED = "confirmed"
    REFUSED = "refused"
    CANCELLED = "cancelled"
    RESTORED = "restored"


class PayeeChangeEntry(BaseModel):
    change_id: str
    contract_no: str
    application_id: str
    account_no: str
    account_name: str
    bank_code: str
    previous_account_no: str
    status: ChangeStatus = ChangeStatus.PENDING
    requested_at: datetime
    decided_at: datetime | None = None
    decided_via: Literal["online", "offline"] | None = None
    note: str | None = None
    event_id: str | None = None
    ended_at: datetime | None = None  # cancelled or restored


class SentEvent(BaseModel):
    payload: dict[str, Any]
    deliveries: list[CallbackOutcome] = Field(default_factory=list)


class ContractPayment(BaseModel):
    """A payment the treasury made on a contract, as it told the procurement system."""

    payment_id: str = Field(min_length=1, max_length=128)
    amount: Money = Field(gt=0)
    paid_on: date


class RecordedContractPayment(ContractPayment):
    contract_no: str
    recorded_at: datetime


class PaymentRecorded(BaseModel):
    status: Literal["recorded", "duplicate"]
    contract_no: str
    paid_amount: Money


class ProcurementState(BaseModel):
    contracts: dict[str, Contract] = Field(default_factory=dict)
    history_overrides: dict[str, list[PastContract]] = Field(default_factory=dict)
    financings: dict[str, FinancingEntry] = Field(default_factory=dict)  # active ones, by contract
    released_financings: list[FinancingEntry] = Field(default_factory=list)
    payee_changes: list[PayeeChangeEntry] = Field(default_factory=list)
    events: dict[str, SentEvent] = Field(default_factory=dict)
    payments: dict[str, RecordedContractPayment] = Field(default_factory=dict)  # from the treasury, by payment_id
    sequence: int = 0
    idempotency: dict[str, StoredAnswer] = Field(default_factory=dict)


# ---- wire models -------------------------------------------------------------------------


class FinancingRequest(BaseModel):
    application_id: str = Field(min_length=1, max_length=128)
    bank_code: str = Field(min_length=1, max_length=32)
    supplier_credit_code: str = Field(min_length=1, max_length=32)
    amount: Money


class FinancingAnswer(FinancingRecord):
    contract_no: str
    supplier_credit_code: str
    amount: Money


class ReleaseRequest(BaseModel):
    reason: str | None = Field(default=None, max_length=500)


class PayeeChangeRequest(BaseModel):
    application_id: str = Field(min_length=1, max_length=128)
    account_no: str = Field(min_length=1, max_length=34)
    account_name: str = Field(min_length=1, max_length=200)
    bank_code: str = Field(min_length=1, max_length=32)


class OfflineAnswerRequest(BaseModel):
    decision: Literal["confirmed", "refused"]
    note: str | None = Field(default=None, max_length=1000)


class RestoreRequest(BaseModel):
    application_id: str = Field(min_length=1, max_length=128)
    reason: str | None = Field(default=None, max_length=500)


class PurchaserDecision(BaseModel):
    decision: Literal["confirmed", "refused"]


class HistoryItems(BaseModel):
    items: list[PastContract]


class ContractItems(BaseModel):
    items: list[Contract]


class CallbackAnswer(BaseModel):
    event_id: str
    change_id: str | None
    contract_no: str
    decision: str
    platform_status: str | None
    platform_http_status: int | None


class ContractState(BaseModel):
    contract: Contract
    financing: FinancingEntry | None
    payee_changes: list[PayeeChangeEntry]


# ---- behaviour ---------------------------------------------------------------------------


class ProcurementSimulator:
    """The system's state and rules; the routes below only translate HTTP to these calls."""

    def __init__(self, settings: Settings, state_file: Path | None) -> None:
        self.settings = settings
        self.store = StateStore(ProcurementState, state_file)
        self.answers = IdempotentAnswers(self.store.state.idempotency, self.store.save)
        self.outbound = Outbound(settings.http_timeout_seconds)

    @property
    def state(self) -> ProcurementState:
        return self.store.state

    def contract(self, contract_no: str) -> Contract:
        contract = self.state.contracts.get(contract_no)
        if contract is None:
            raise contract_not_found(contract_no)
        return contract

    def history(self, credit_code: str) -> list[PastContract]:
        base = self.state.history_overrides.get(credit_code)
        items = list(base) if base is not None else generated_history(credit_code)
        own = [as_past_contract(c) for c in self.state.contracts.values() if c.supplier.credit_code == credit_code]
        return sorted(items + own, key=lambda c: (c.signed_on, c.contract_no))

    def changes_on(self, contract_no: str) -> list[PayeeChangeEntry]:
        return [c for c in self.state.payee_changes if c.contract_no == contract_no]

    def pending_change(self, contract_no: str) -> PayeeChangeEntry | None:
        return next((c for c in self.changes_on(contract_no) if c.status is ChangeStatus.PENDING), None)

    def latest_change_of(self, contract_no: str, application_id: str) -> PayeeChangeEntry | None:
        mine = [c for c in self.changes_on(contract_no) if c.application_id == application_id]
        return mine[-1] if mine else None

    def _next_id(self, prefix: str) -> str:
        self.state.sequence += 1
        return f"{prefix}{self.state.sequence:06d}"

    # financing registration

    def register(self, contract_no: str, request: FinancingRequest) -> Answer:
        contract = self.contract(contract_no)
        held = self.state.financings.get(contract_no)
        if held is not None:
            if held.application_id != request.application_id:
                raise _already_financed(contract_no, held)
            return Answer(status_code=200, body=_financing_answer(held), changed=[])
        if contract.status is not ContractStatus.EFFECTIVE:
            raise invalid_state(f"contract {contract_no} is {contract.status.value}, not effective")
        if request.supplier_credit_code != contract.supplier.credit_code:
            raise validation_error("supplier_credit_code is not the contract's supplier")
        if request.amount <= 0:
            raise validation_error("amount must be greater than 0")
        entry = FinancingEntry(contract_no=contract_no, registered_at=now(), **request.model_dump())
        self.state.financings[contract_no] = entry
        log.info("financing.registered", contract_no=contract_no, application_id=request.application_id)
        return Answer(status_code=201, body=_financing_answer(entry), changed=[("financings", contract_no)])

    def release(self, contract_no: str, application_id: str, reason: str | None) -> Answer:
        held = self.state.financings.get(contract_no)
        if held is None or held.application_id != application_id:
            return Answer(status_code=200, body={"status": "not_held"}, changed=[])
        del self.state.financings[contract_no]
        held.released_at = now()
        held.release_reason = reason
        self.state.released_financings.append(held)
        log.info("financing.released", contract_no=contract_no, application_id=application_id)
        released = ("released_financings", len(self.state.released_financings) - 1)
        return Answer(status_code=200, body={"status": "released"}, changed=[("financings", contract_no), released])

    # payee account

    def request_change(self, contract_no: str, request: PayeeChangeRequest) -> Answer:
        contract = self.contract(contract_no)
        mine = self.latest_change_of(contract_no, request.application_id)
        if mine is not None and mine.status in (ChangeStatus.PENDING, ChangeStatus.CONFIRMED):
            return Answer(status_code=202, body=_change_ack(mine), changed=[])
        pending = self.pending_change(contract_no)
        if pending is not None:
            raise invalid_state(f"another payee-account change is pending on contract {contract_no}")
        held = self.state.financings.get(contract_no)
        if held is not None and held.application_id != request.application_id:
            raise _already_financed(contract_no, held)
        change = PayeeChangeEntry(
            change_id=self._next_id("PC"),
            contract_no=contract_no,
            previous_account_no=contract.payee_account_no,
            requested_at=now(),
            **request.model_dump(),
        )
        self.state.payee_changes.append(change)
        log.info("payee_change.requested", contract_no=contract_no, application_id=request.application_id)
        changed: list[Change] = [("payee_changes", len(self.state.payee_changes) - 1), "sequence"]
        return Answer(status_code=202, body=_change_ack(change), changed=changed)

    def decide(
        self, change: PayeeChangeEntry, decision: str, via: Literal["online", "offline"], note: str | None
    ) -> None:
        change.status = ChangeStatus(decision)
        change.decided_at = now()
        change.decided_via = via
        change.note = note
        if change.status is ChangeStatus.CONFIRMED:
            self.contract(change.contract_no).payee_account_no = change.account_no
        log.info("payee_change.decided", contract_no=change.contract_no, decision=decision, via=via)

    def offline_answer(self, contract_no: str, application_id: str, answer: OfflineAnswerRequest) -> Answer:
        self.contract(contract_no)
        change = self.latest_change_of(contract_no, application_id)
        if change is None:
            raise invalid_state(f"application {application_id} requested no payee-account change on {contract_no}")
        if change.status is ChangeStatus.PENDING:
            self.decide(change, answer.decision, "offline", answer.note)
        elif change.status.value != answer.decision:
            raise invalid_state(f"the payee-account change is already {change.status.value}")
        return Answer(status_code=200, body={"change_id": change.change_id, "status": change.status.value})

    def restore(self, contract_no: str, request: RestoreRequest) -> Answer:
        change = self.latest_change_of(contract_no, request.application_id)
        status = "nothing_to_restore"
        if change is not None and change.status is ChangeStatus.PENDING:
            change.status, change.ended_at, status = ChangeStatus.CANCELLED, now(), "cancelled"
        elif change is not None and change.status is ChangeStatus.CONFIRMED:
            contract = self.contract(contract_no)
            if contract.payee_account_no == change.account_no:
                contract.payee_account_no = change.previous_account_no
            change.status, change.ended_at, status = ChangeStatus.RESTORED, now(), "restored"
        changed: list[Change] = []
        if status != "nothing_to_restore":
            log.info(
                "payee_change.undone", contract_no=contract_no, application_id=request.application_id, status=status
            )
            assert change is not None
            changed = [("payee_changes", position(self.state.payee_changes, change)), ("contracts", contract_no)]
        return Answer(status_code=200, body={"status": status}, changed=changed)

    # payments made by the treasury on the contract

    def record_payment(self, contract_no: str, payment: ContractPayment) -> Answer:
        """Idempotent by payment_id: the treasury may tell the same payment twice (a retry after
        a lost answer), and the contract must be paid once."""
        contract = self.contract(contract_no)
        if payment.payment_id in self.state.payments:
            return Answer(status_code=200, body=_payment_recorded("duplicate", contract))
        self.state.payments[payment.payment_id] = RecordedContractPayment(
            contract_no=contract_no, recorded_at=now(), **payment.model_dump()
        )
        contract.paid_amount += payment.amount
        self.store.save(("payments", payment.payment_id), ("contracts", contract_no))
        log.info("contract.paid", contract_no=contract_no, payment_id=payment.payment_id, amount=str(payment.amount))
        return Answer(status_code=201, body=_payment_recorded("recorded", contract))

    # the purchaser's online answer, and its callback

    def record_online_decision(self, contract_no: str, decision: str) -> tuple[PayeeChangeEntry, str]:
        self.contract(contract_no)
        change = self.pending_change(contract_no)
        if change is None:
            raise invalid_state(f"no payee-account change is pending on contract {contract_no}")
        self.decide(change, decision, "online", None)
        event_id = f"EV-{change.change_id}"
        change.event_id = event_id
        assert change.decided_at is not None
        payload = {
            "event_id": event_id,
            "contract_no": contract_no,
            "decision": decision,
            "decided_at": change.decided_at.isoformat(),
        }
        self.state.events[event_id] = SentEvent(payload=payload)
        self.store.save(
            ("payee_changes", position(self.state.payee_changes, change)),
            ("contracts", contract_no),
            ("events", event_id),
        )
        return change, event_id

    async def deliver(self, event_id: str) -> CallbackAnswer:
        event = self.state.events.get(event_id)
        if event is None:
            raise not_found(f"event {event_id}")
        outcome = await send_signed(
            self.outbound,
            self.settings.api_url.rstrip("/") + ACCOUNT_CHANGES_PATH,
            self.settings.procurement_secret,
            event.payload,
        )
        event.deliveries.append(outcome)
        self.store.save(("events", event_id))
        change_id = event_id.removeprefix("EV-")
        return CallbackAnswer(
            event_id=event_id,
            change_id=change_id,
            contract_no=str(event.payload["contract_no"]),
            decision=str(event.payload["decision"]),
            platform_status=outcome.status,
            platform_http_status=outcome.http_status,
        )


def _financing_answer(entry: FinancingEntry) -> dict[str, Any]:
    return FinancingAnswer(
        contract_no=entry.contract_no,
        supplier_credit_code=entry.supplier_credit_code,
        amount=entry.amount,
        **entry.record().model_dump(),
    ).model_dump(mode="json")


def _payment_recorded(status: Literal["recorded", "duplicate"], contract: Contract) -> dict[str, Any]:
    answer = PaymentRecorded(status=status, contract_no=contract.contract_no, paid_amount=contract.paid_amount)
    return answer.model_dump(mode="json")


def _change_ack(change: PayeeChangeEntry) -> dict[str, Any]:
    return {
        "change_id": change.change_id,
        "previous_account_no": change.previous_account_no,
        "status": change.status.value,
    }


def _already_financed(contract_no: str, holder: FinancingEntry) -> SimulatorError:
    return SimulatorError(
        409,
        "contract_already_financed",
        f"contract {contract_no} already has an active financing",
        {"holder": holder.record().model_dump(mode="json")},
    )


# ---- HTTP --------------------------------------------------------------------------------


def create_procurement_app(
    settings: Settings, state_file: Path | None = None, *, fault_seed: int | None = None
) -> FastAPI:
    sim = ProcurementSimulator(settings, state_file)
    app = new_system_app("procurement", "Procurement system (simulator)", __doc__ or "", fault_seed=fault_seed)
    app.state.simulator = sim
    app.state.closing = [sim.outbound.aclose]  # when the server stops (simulators/main.py)
    app.include_router(_own_api(sim))
    app.include_router(_hooks(sim))
    return app


def _own_api(sim: ProcurementSimulator) -> APIRouter:
    router = APIRouter(tags=["procurement"])

    @router.get("/contracts/{contract_no}")
    async def get_contract(contract_no: str) -> Contract:
        return sim.contract(contract_no)

    @router.get("/contracts")
    async def contracts_of(supplier_credit_code: str) -> ContractItems:
        mine = [c for c in sim.state.contracts.values() if c.supplier.credit_code == supplier_credit_code]
        return ContractItems(items=sorted(mine, key=lambda c: (c.signed_on, c.contract_no), reverse=True))

    @router.get("/suppliers/{credit_code}/contracts")
    async def supplier_contracts(credit_code: str) -> HistoryItems:
        return HistoryItems(items=sim.history(credit_code))

    @router.post("/contracts/{contract_no}/financing", status_code=201)
    async def register_financing(contract_no: str, body: FinancingRequest, key: IdempotencyKey) -> JSONResponse:
        return sim.answers.answer(key, f"register {contract_no}", body, lambda: sim.register(contract_no, body))

    @router.get("/contracts/{contract_no}/financing")
    async def get_financing(contract_no: str) -> FinancingRecord:
        sim.contract(contract_no)
        held = sim.state.financings.get(contract_no)
        if held is None:
            raise not_found(f"an active financing on contract {contract_no}")
        return held.record()

    @router.post("/contracts/{contract_no}/financing/{application_id}/release")
    async def release_financing(
        contract_no: str, application_id: str, body: ReleaseRequest, key: IdempotencyKey
    ) -> JSONResponse:
        return sim.answers.answer(
            key,
            f"release {contract_no} {application_id}",
            body,
            lambda: sim.release(contract_no, application_id, body.reason),
        )

    @router.post("/contracts/{contract_no}/payee-change", status_code=202)
    async def request_payee_change(contract_no: str, body: PayeeChangeRequest, key: IdempotencyKey) -> JSONResponse:
        return sim.answers.answer(
            key, f"payee-change {contract_no}", body, lambda: sim.request_change(contract_no, body)
        )

    @router.post("/contracts/{contract_no}/payee-change/{application_id}/offline-answer")
    async def offline_answer(
        contract_no: str, application_id: str, body: OfflineAnswerRequest, key: IdempotencyKey
    ) -> JSONResponse:
        return sim.answers.answer(
            key,
            f"offline-answer {contract_no} {application_id}",
            body,
            lambda: sim.offline_answer(contract_no, application_id, body),
        )

    @router.post("/contracts/{contract_no}/payee-restore")
    async def restore_payee_account(contract_no: str, body: RestoreRequest, key: IdempotencyKey) -> JSONResponse:
        return sim.answers.answer(key, f"payee-restore {contract_no}", body, lambda: sim.restore(contract_no, body))

    return router


def _hooks(sim: ProcurementSimulator) -> APIRouter:
    router = APIRouter(prefix="/sim", tags=["sim"])

    @router.post("/contracts", status_code=201)
    async def create_contract(contract: Contract) -> Contract:
        sim.state.contracts[contract.contract_no] = contract
        sim.store.save(("contracts", contract.contract_no))
        log.info("contract.created", contract_no=contract.contract_no)
        return contract

    @router.get("/contracts/{contract_no}")
    async def contract_state(contract_no: str) -> ContractState:
        return ContractState(
            contract=sim.contract(contract_no),
            financing=sim.state.financings.get(contract_no),
            payee_changes=sim.changes_on(contract_no),
        )

    @router.post("/contracts/{contract_no}/account-change")
    async def purchaser_decides(contract_no: str, body: PurchaserDecision) -> CallbackAnswer:
        _, event_id = sim.record_online_decision(contract_no, body.decision)
        return await sim.deliver(event_id)

    @router.post("/contracts/{contract_no}/payments", status_code=201, response_model=PaymentRecorded)
    async def contract_paid(contract_no: str, body: ContractPayment) -> JSONResponse:
        answer = sim.record_payment(contract_no, body)
        return JSONResponse(answer.body, status_code=answer.status_code)

    @router.post("/events/{event_id}/redeliver")
    async def redeliver(event_id: str) -> CallbackAnswer:
        return await sim.deliver(event_id)

    @router.put("/suppliers/{credit_code}/history")
    async def replace_history(credit_code: str, body: HistoryItems) -> HistoryItems:
        sim.state.history_overrides[credit_code] = body.items
        sim.store.save()
        return HistoryItems(items=sim.history(credit_code))

    return router
