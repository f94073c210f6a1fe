"""A financing's whole state, in one object grouped by stage, and the view readers get of it.

Everything the process knows lives here, so a reader of the workflow finds it in one place
and `to_view` is a pure function of it: the `view` query, the record written to PostgreSQL
and the update answers are all the same projection.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Literal

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from domain.application import (
        ApplicationView,
        Decision,
        FinancingInput,
        MessageOutcome,
        OfflineLockAnswer,
        OpsCancellation,
        TimelineEntry,
        Withdrawal,
        WriteOff,
        attention_items,
    )
    from domain.credit_profile import CreditProfile
    from domain.errors import BusinessRefusal
    from domain.money import ZERO
    from domain.repayment import LoanBalance, LoanTerms
    from domain.stages import Stage


@dataclass
class Verification:
    done: bool = False
    refusal: BusinessRefusal | None = None
    district: str | None = None
    supplier_name: str | None = None
    credit_profile: CreditProfile | None = None
    eligible_max: Decimal | None = None


@dataclass
class Review:
    decision: Decision | None = None
    resends: int = 0
    resend_requested: bool = False

    @property
    def approved(self) -> bool:
        return self.decision is not None and self.decision.decision == "approve"


@dataclass
class Lock:
    answer: Literal["confirmed", "refused"] | None = None
    answered_by: str | None = None  # the event id, or "ops" for an offline answer
    offline: OfflineLockAnswer | None = None


@dataclass
class QueuedMoney:
    """An amount received and not applied yet: repayments are applied one at a time, in the
    order they arrived, once the loan exists."""

    source: Literal["treasury", "supplier"]
    source_id: str
    amount: Decimal
    paid_on: date

    @property
    def key(self) -> str:
        return message_key(self.source, self.source_id)


@dataclass
class Loan:
    terms: LoanTerms | None = None
    balance: LoanBalance | None = None
    disbursement_id: str | None = None
    recovered: Decimal = ZERO
    write_off: WriteOff | None = None


@dataclass
class Deadlines:
    attention_at: datetime | None = None
    expiry_at: datetime | None = None
    moved: bool = False  # ops moved them while the process waits: recompute the timer


@dataclass
class Inbox:
    """Every message the process was given, under its business key, with what was done with
    it (seen and outcome are one record, so a message is never "seen" without an outcome)."""

    outcomes: dict[str, MessageOutcome] = field(default_factory=dict)
    queue: list[QueuedMoney] = field(default_factory=list)

    def seen(self, key: str) -> bool:
        return key in self.outcomes

    def settle(
        self, key: str, outcome: Literal["applied", "repeat", "kept"], note: str | None = None, **applied: object
    ) -> None:
        """Record what was done; `applied` carries a repayment's split (see MessageOutcome)."""
        current = self.outcomes[key]
        self.outcomes[key] = current.model_copy(update={"outcome": outcome, "note": note, **applied})


def message_key(source: str, message_id: str) -> str:
    return f"{source}:{message_id}"


@dataclass
class FinancingState:
    stage: Stage
    stage_since: datetime
    timeline: list[TimelineEntry]
    waiting_for: str | None = "the procurement system: contract and supplier history"
    attention: dict[str, str] = field(default_factory=dict)  # key -> reason, see domain ATTENTION_FIXES
    final_reason: str | None = None
    closed: bool = False  # a final stage was reached and every closing step is done
    withdrawal: Withdrawal | None = None
    cancellation: OpsCancellation | None = None
    undo: list[str] = field(default_factory=list)  # saga keys, in registration order
    verification: Verification = field(default_factory=Verification)
    review: Review = field(default_factory=Review)
    lock: Lock = field(default_factory=Lock)
    loan: Loan = field(default_factory=Loan)
    deadlines: Deadlines = field(default_factory=Deadlines)
    inbox: Inbox = field(default_factory=Inbox)

    @classmethod
    def start(cls, now: datetime) -> FinancingState:
        return cls(stage=Stage.VERIFYING, stage_since=now, timeline=[TimelineEntry(stage=Stage.VERIFYING, at=now)])

    @property
    def interrupted(self) -> bool:
        return self.withdrawal is not None or self.cancellation is not None


def to_view(state: FinancingState, inp: FinancingInput, version: int) -> ApplicationView:
    """The application as readers see it: a pure projection of the state."""
    request, decision, loan = inp.request, state.review.decision, state.loan
    approved = decision if decision is not None and decision.decision == "approve" else None
    terms, balance = loan.terms, loan.balance
    return ApplicationView(
        application_id=inp.application_id,
        contract_no=request.contract_no,
        bank_code=inp.bank_code,
        product_code=request.product_code,
        supplier_credit_code=request.supplier_credit_code,
        district=state.verification.district,
        stage=state.stage,
        requested_amount=request.requested_amount,
        approved_amount=approved.approved_amount if approved else None,
        annual_rate=approved.annual_rate if approved else None,
        term_days=approved.term_days if approved else None,
        disbursed_on=terms.disbursed_on if terms else None,
        maturity_date=terms.maturity_date if terms else None,
        outstanding_principal=balance.outstanding_principal if balance else ZERO,
        interest_paid=balance.interest_paid if balance else ZERO,
        penalty_paid=balance.penalty_paid if balance else ZERO,
        principal_repaid=balance.principal_repaid if balance else ZERO,
        surplus_released=balance.surplus_released if balance else ZERO,
        interest_due=balance.interest_due if balance else ZERO,
        penalty_due=balance.penalty_due if balance else ZERO,
        recovered_amount=loan.recovered,
        needs_attention=bool(state.attention),
        attention_reasons=list(state.attention.values()),
        timeline=list(state.timeline),
        credit_profile=state.verification.credit_profile,
        supplier_name=state.verification.supplier_name,
        eligible_maximum=state.verification.eligible_max,
        stage_since=state.stage_since,
        stage_deadline=state.deadlines.expiry_at,
        waiting_for=state.waiting_for,
        final_reason=state.final_reason,
        disbursement_id=loan.disbursement_id,
        submitted_at=inp.submitted_at,
        version=version,
        attention=attention_items(state.attention),
        messages=list(state.inbox.outcomes.values()),
        financing_request_id=inp.preapproved.request_id if inp.preapproved else None,
        offer_id=inp.preapproved.offer_id if inp.preapproved else None,
    )
