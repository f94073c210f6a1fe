"""The banks' systems, simulated — one simulator for all cooperating banks (`bank_code` in
every body): the credit system that receives applications for review, and the core system
that pays loans out, captures repayments and receives overdue notices.

Own API (faults apply; every POST needs an `Idempotency-Key`; a repeated key returns the
first answer and never has a second effect):
- `POST /credit-applications` `{application_id, bank_code, contract_no, product_code,
  supplier_credit_code, supplier_name, requested_amount, eligible_maximum, credit_profile, resend}`
  → 201 `{application_id, bank_code, reference, status, submissions, received_at}`; the same
  application sent again under a new key (ops resent it) → 200, `submissions` counts the sends.
- `POST /credit-applications/{application_id}/cancel` `{bank_code, reason}` → 200 `{"status":
  "cancelled" | "not_submitted"}` (cancelling what was never received is a no-op).
- `POST /disbursements` `{application_id, bank_code, contract_no, amount, account_no, account_name,
  supplier_credit_code, district}` → 201 `{disbursement_id, executed_at, application_id, amount}`.
  A loan is paid out once: a second payout for the same application under another key is 409
  `invalid_state` (naming the first `disbursement_id`).
- `POST /repayments` `{application_id, bank_code, contract_no, source, source_id, paid_on, penalty,
  interest, principal, surplus, amount}` → 201 `{repayment_id, captured, released, recorded_at}`:
  the bank captures penalty + interest + principal and releases the surplus to the supplier.
  422 unless the parts add up to `amount`; 409 `invalid_state` for a loan never paid out; the same
  (application, source, source_id) again → 200 with the first record.
- `POST /overdue-notices` `{application_id, bank_code, contract_no, outstanding_principal,
  overdue_since}` → 201 `{notice_id, received_at}` (200 for a notice already received).

Each bank's book from the platform's event feed (simulators/bank_feed.py): `GET /sim/book?bank_code=&loans=`.

Test hooks (never faulted): `GET /sim/disbursements?contract_no=&application_id=` →
`{"items": [{disbursement_id, contract_no, amount, account_no, idempotency_key, executed_at, …}]}`,
every disbursement executed; `GET /sim/repayments?contract_no=&application_id=`;
`GET /sim/credit-applications?application_id=&bank_code=`; `GET /sim/overdue-notices?contract_no=`.
"""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import Annotated, Any, Literal

import structlog
from fastapi import APIRouter, FastAPI
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from domain.credit_profile import CreditProfile
from domain.money import ZERO, Money, money_str
from domain.settings import Settings
from simulators.bank_feed import FeedFollower, read_bank_keys, summary
from simulators.clock import now
from simulators.idempotency import Answer, IdempotencyKey, IdempotentAnswers, StoredAnswer
from simulators.problems import invalid_state, validation_error
from simulators.service import new_system_app
from simulators.state import Change, StateStore

log = structlog.get_logger("simulators.bank")

Code = Annotated[str, Field(min_length=1, max_length=128)]


# ---- wire models -------------------------------------------------------------------------


class ReviewRequest(BaseModel):
    application_id: Code
    bank_code: Code
    contract_no: Code
    product_code: Code
    supplier_credit_code: Code
    supplier_name: str = Field(min_length=1, max_length=200)
    requested_amount: Money
    eligible_maximum: Money
    credit_profile: CreditProfile
    resend: int = Field(default=0, ge=0)


class CancelRequest(BaseModel):
    bank_code: Code
    reason: str | None = Field(default=None, max_length=500)


class DisbursementRequest(BaseModel):
    application_id: Code
    bank_code: Code
    contract_no: Code
    amount: Money
    account_no: str = Field(min_length=1, max_length=34)
    account_name: str = Field(min_length=1, max_length=200)
    supplier_credit_code: str | None = None
    district: str | None = None


class RepaymentRequest(BaseModel):
    application_id: Code
    bank_code: Code
    contract_no: Code
    source: Literal["treasury", "supplier", "recovery"]
    source_id: Code
    paid_on: date
    penalty: Money
    interest: Money
    principal: Money
    surplus: Money
    amount: Money


class OverdueNoticeRequest(BaseModel):
    application_id: Code
    bank_code: Code
    contract_no: Code
    outstanding_principal: Money
    overdue_since: date


# ---- state -------------------------------------------------------------------------------


class ReviewEntry(ReviewRequest):
    reference: str
    status: Literal["under_review", "cancelled"] = "under_review"
    submissions: int = 1
    received_at: datetime
    cancelled_at: datetime | None = None
    cancel_reason: str | None = None


class DisbursementEntry(DisbursementRequest):
    disbursement_id: str
    idempotency_key: str
    executed_at: datetime


class RepaymentEntry(RepaymentRequest):
    repayment_id: str
    captured: Money
    released: Money
    idempotency_key: str
    recorded_at: datetime


class OverdueNoticeEntry(OverdueNoticeRequest):
    notice_id: str
    idempotency_key: str
    received_at: datetime


class BankState(BaseModel):
    reviews: dict[str, ReviewEntry] = Field(default_factory=dict)
    disbursements: list[DisbursementEntry] = Field(default_factory=list)
    repayments: list[RepaymentEntry] = Field(default_factory=list)
    overdue_notices: list[OverdueNoticeEntry] = Field(default_factory=list)
    sequence: int = 0
    idempotency: dict[str, StoredAnswer] = Field(default_factory=dict)


class Items(BaseModel):
    items: list[dict[str, Any]]


# ---- behaviour ---------------------------------------------------------------------------


class BankSimulator:
    def __init__(self, state_file: Path | None) -> None:
        self.store = StateStore(BankState, state_file)
        self.answers = IdempotentAnswers(self.store.state.idempotency, self.store.save)

    @property
    def state(self) -> BankState:
        return self.store.state

    def _next_id(self, prefix: str, bank_code: str) -> str:
        self.state.sequence += 1
        return f"{prefix}-{bank_code}-{now():%Y%m%d}-{self.state.sequence:06d}"

    def receive_review(self, request: ReviewRequest) -> Answer:
        entry = self.state.reviews.get(request.application_id)
        if entry is not None:
            if entry.bank_code != request.bank_code:
                raise invalid_state(f"application {request.application_id} was sent to another bank")
            entry.submissions += 1
            entry.status, entry.cancelled_at, entry.cancel_reason = "under_review", None, None
            status_code = 200
            changed: list[Change] = [("reviews", request.application_id)]
        else:
            entry = ReviewEntry(
                reference=self._next_id("CR", request.bank_code), received_at=now(), **request.model_dump()
            )
            self.state.reviews[request.application_id] = entry
            status_code = 201
            changed = [("reviews", request.application_id), "sequence"]
        log.info("review.received", application_id=request.application_id, bank_code=request.bank_code)
        body = entry.model_dump(mode="json", include={"application_id", "bank_code", "reference", "status"})
        body |= {"submissions": entry.submissions, "received_at": entry.received_at.isoformat()}
        return Answer(status_code=status_code, body=body, changed=changed)

    def cancel_review(self, application_id: str, request: CancelRequest) -> Answer:
        entry = self.state.reviews.get(application_id)
        if entry is None or entry.bank_code != request.bank_code:
            return Answer(status_code=200, body={"status": "not_submitted"}, changed=[])
        if entry.status != "cancelled":
            entry.status, entry.cancelled_at, entry.cancel_reason = "cancelled", now(), request.reason
            log.info("review.cancelled", application_id=application_id, bank_code=request.bank_code)
        return Answer(status_code=200, body={"status": "cancelled"}, changed=[("reviews", application_id)])

    def disburse(self, request: DisbursementRequest, key: str) -> Answer:
        if request.amount <= 0:
            raise validation_error("amount must be greater than 0")
        earlier = self._disbursement_of(request.application_id)
        if earlier is not None:
            raise invalid_state(
                f"application {request.application_id} was already paid out",
                {"disbursement_id": earlier.disbursement_id},
            )
        entry = DisbursementEntry(
            disbursement_id=self._next_id("D", request.bank_code),
            idempotency_key=key,
            executed_at=now(),
            **request.model_dump(),
        )
        self.state.disbursements.append(entry)
        log.info(
            "disbursement.executed",
            application_id=request.application_id,
            bank_code=request.bank_code,
            contract_no=request.contract_no,
            amount=str(request.amount),
            disbursement_id=entry.disbursement_id,
        )
        body = {
            "disbursement_id": entry.disbursement_id,
            "executed_at": entry.executed_at.isoformat(),
            "application_id": entry.application_id,
            "amount": money_str(entry.amount),
        }
        changed: list[Change] = [("disbursements", len(self.state.disbursements) - 1), "sequence"]
        return Answer(status_code=201, body=body, changed=changed)

    def _disbursement_of(self, application_id: str) -> DisbursementEntry | None:
        return next((d for d in self.state.disbursements if d.application_id == application_id), None)

    def apply_repayment(self, request: RepaymentRequest, key: str) -> Answer:
        parts = [request.penalty, request.interest, request.principal, request.surplus]
        if any(part < 0 for part in parts) or request.amount <= 0:
            raise validation_error("amount must be positive and its parts not negative")
        if sum(parts, ZERO) != request.amount:
            raise validation_error("penalty + interest + principal + surplus must equal amount")
        for earlier in self.state.repayments:
            if (earlier.application_id, earlier.source, earlier.source_id) == (
                request.application_id,
                request.source,
                request.source_id,
            ):
                return Answer(status_code=200, body=_repayment_answer(earlier), changed=[])
        if self._disbursement_of(request.application_id) is None:
            raise invalid_state(f"application {request.application_id} has no loan paid out")
        captured = request.penalty + request.interest + request.principal
        entry = RepaymentEntry(
            repayment_id=self._next_id("R", request.bank_code),
            captured=captured,
            released=request.surplus,
            idempotency_key=key,
            recorded_at=now(),
            **request.model_dump(),
        )
        self.state.repayments.append(entry)
        log.info(
            "repayment.applied",
            application_id=request.application_id,
            source=request.source,
            source_id=request.source_id,
            captured=str(captured),
            released=str(request.surplus),
        )
        changed: list[Change] = [("repayments", len(self.state.repayments) - 1), "sequence"]
        return Answer(status_code=201, body=_repayment_answer(entry), changed=changed)

    def receive_overdue_notice(self, request: OverdueNoticeRequest, key: str) -> Answer:
        for earlier in self.state.overdue_notices:
            if (earlier.application_id, earlier.overdue_since) == (request.application_id, request.overdue_since):
                return Answer(status_code=200, body=_notice_answer(earlier))
        entry = OverdueNoticeEntry(
            notice_id=self._next_id("N", request.bank_code),
            idempotency_key=key,
            received_at=now(),
            **request.model_dump(),
        )
        self.state.overdue_notices.append(entry)
        log.info("overdue_notice.received", application_id=request.application_id, bank_code=request.bank_code)
        return Answer(status_code=201, body=_notice_answer(entry))


def _repayment_answer(entry: RepaymentEntry) -> dict[str, Any]:
    return {
        "repayment_id": entry.repayment_id,
        "captured": money_str(entry.captured),
        "released": money_str(entry.released),
        "recorded_at": entry.recorded_at.isoformat(),
    }


def _notice_answer(entry: OverdueNoticeEntry) -> dict[str, Any]:
    return {"notice_id": entry.notice_id, "received_at": entry.received_at.isoformat()}


# ---- HTTP --------------------------------------------------------------------------------


def create_bank_app(
    settings: Settings,
    state_file: Path | None = None,
    *,
    fault_seed: int | None = None,
    book_file: Path | None = None,
) -> FastAPI:
    """The bank calls no one, except the platform's event feed when `bank_feed_credentials` is
    set: its book from events (simulators/bank_feed.py) is kept in `book_file`."""
    sim = BankSimulator(state_file)
    app = new_system_app("bank", "Bank systems (simulator)", __doc__ or "", fault_seed=fault_seed)
    app.state.simulator = sim
    follower = None
    if settings.bank_feed_credentials is not None:
        follower = FeedFollower(
            settings.api_url,
            read_bank_keys(settings.bank_feed_credentials),
            book_file,
            idle_seconds=settings.bank_feed_idle_seconds,
            http_timeout=settings.http_timeout_seconds,
        )
        app.state.background = [follower.run]  # started and cancelled with the server (simulators/main.py)
    app.state.feed = follower
    app.include_router(_own_api(sim))
    app.include_router(_hooks(sim, follower))
    return app


def _own_api(sim: BankSimulator) -> APIRouter:
    router = APIRouter(tags=["bank"])

    @router.post("/credit-applications", status_code=201)
    async def submit_application(body: ReviewRequest, key: IdempotencyKey) -> JSONResponse:
        return sim.answers.answer(key, "credit-application", body, lambda: sim.receive_review(body))

    @router.post("/credit-applications/{application_id}/cancel")
    async def cancel_application(application_id: str, body: CancelRequest, key: IdempotencyKey) -> JSONResponse:
        return sim.answers.answer(
            key, f"cancel {application_id}", body, lambda: sim.cancel_review(application_id, body)
        )

    @router.post("/disbursements", status_code=201)
    async def disburse(body: DisbursementRequest, key: IdempotencyKey) -> JSONResponse:
        return sim.answers.answer(key, "disbursement", body, lambda: sim.disburse(body, key))

    @router.post("/repayments", status_code=201)
    async def repay(body: RepaymentRequest, key: IdempotencyKey) -> JSONResponse:
        return sim.answers.answer(key, "repayment", body, lambda: sim.apply_repayment(body, key))

    @router.post("/overdue-notices", status_code=201)
    async def overdue_notice(body: OverdueNoticeRequest, key: IdempotencyKey) -> JSONResponse:
        return sim.answers.answer(key, "overdue-notice", body, lambda: sim.receive_overdue_notice(body, key))

    return router


def _hooks(sim: BankSimulator, follower: FeedFollower | None) -> APIRouter:
    router = APIRouter(prefix="/sim", tags=["sim"])

    @router.get("/book")
    async def book(bank_code: str | None = None, loans: bool = False) -> dict[str, Any]:
        """Each bank's book as it built it from its event feed alone (`following` false: no keys
        given, no feed followed); `loans=true` adds every application with its events as applied."""
        if follower is None:
            return {"following": False, "banks": []}
        books = [b for code, b in sorted(follower.books.banks.items()) if bank_code in (None, code)]
        return {"following": True, "banks": [summary(b, with_loans=loans) for b in books]}

    def listed(entries: list[Any], **filters: str | None) -> Items:
        chosen = [e for e in entries if all(v is None or getattr(e, k) == v for k, v in filters.items())]
        return Items(items=[e.model_dump(mode="json") for e in chosen])

    @router.get("/disbursements")
    async def disbursements(contract_no: str | None = None, application_id: str | None = None) -> Items:
        return listed(sim.state.disbursements, contract_no=contract_no, application_id=application_id)

    @router.get("/repayments")
    async def repayments(contract_no: str | None = None, application_id: str | None = None) -> Items:
        return listed(sim.state.repayments, contract_no=contract_no, application_id=application_id)

    @router.get("/credit-applications")
    async def credit_applications(application_id: str | None = None, bank_code: str | None = None) -> Items:
        return listed(list(sim.state.reviews.values()), application_id=application_id, bank_code=bank_code)

    @router.get("/overdue-notices")
    async def overdue_notices(contract_no: str | None = None, application_id: str | None = None) -> Items:
        return listed(sim.state.overdue_notices, contract_no=contract_no, application_id=application_id)

    return router
