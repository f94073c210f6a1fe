"""The application: what a bank submits, what the workflow is started with, the messages
that drive it, and the view every reader gets (API.md "Applications")."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, Field, field_validator, model_validator
from pydantic.json_schema import SkipJsonSchema

# business time moved to domain/business_time.py; its names are still importable from here
from domain.business_time import SHANGHAI as SHANGHAI
from domain.business_time import ShownInstant
from domain.business_time import business_date as business_date
from domain.business_time import in_business_time as in_business_time
from domain.business_time import start_of_business_day as start_of_business_day
from domain.credit_code import credit_code_problem
from domain.credit_profile import CreditProfile
from domain.inputs import TEXT_MAX, Id, InputMoney, Instant, Text, greater_than_zero, text_problem
from domain.money import ZERO, Money, Rate
from domain.products import Product
from domain.stages import Stage
from domain.working_days import WorkingCalendar


class ExternalInput(BaseModel):
    """A body sent by a bank, ops or an external system. Its fields use the edge types of
    `domain.inputs`; as a backstop, no string field anywhere in it holds a control character or
    a lone surrogate (PostgreSQL text cannot store NUL: refused as malformed, not a 500)."""

    @field_validator("*", mode="after")
    @classmethod
    def _clean_text(cls, value: object) -> object:
        if isinstance(value, str):
            problem = text_problem(value, limit=max(TEXT_MAX, 1000))
            if problem:
                raise ValueError(problem)
        return value


class CollectionAccount(ExternalInput):
    account_no: Id = Field(min_length=6, max_length=34, pattern=r"^[0-9A-Za-z]+$")
    account_name: Text = Field(min_length=1, max_length=200)


class ApplicationRequest(ExternalInput):
    """`POST /v1/applications` body; the shape checks are refusal 1 of API.md."""

    contract_no: Id
    supplier_credit_code: Id
    product_code: Id = Field(min_length=1, max_length=32)
    requested_amount: InputMoney
    collection_account: CollectionAccount

    _positive = field_validator("requested_amount")(greater_than_zero)

    @field_validator("supplier_credit_code")
    @classmethod
    def _credit_code(cls, value: str) -> str:
        problem = credit_code_problem(value)
        if problem:
            raise ValueError(problem)
        return value


class Deadlines(BaseModel):
    """How long each waiting stage may take before a person is asked to look, and before the
    process gives up. Review attention comes from the product's `review_sla_days`."""

    review_expiry_days: int = 30
    lock_attention_days: int = 5
    lock_expiry_days: int = 20
    disbursement_attention_minutes: int = 30


class Preapproval(BaseModel):
    """A bank's offer that the supplier accepted on its financing request (API.md v1.1
    "Suppliers"): the platform submits the application on the bank's behalf, and once verified
    it is approved at these terms without a second review (stage account_lock next)."""

    request_id: str
    offer_id: str
    approved_amount: Money
    annual_rate: Rate
    term_days: int

    def decision(self) -> Decision:
        return Decision(
            decision="approve",
            approved_amount=self.approved_amount,
            annual_rate=self.annual_rate,
            term_days=self.term_days,
        )


class FinancingInput(BaseModel):
    """The workflow's start input."""

    application_id: str
    bank_code: str
    request: ApplicationRequest
    product: Product | None  # None: the bank has no such product (refused after the contract checks)
    submitted_at: datetime
    deadlines: Deadlines = Field(default_factory=Deadlines)
    # The State Council calendar from the submission's year on, as the API knew it (its
    # `review_sla_days` count working days): data on the input, so that replaying this history
    # with a later calendar package computes the same deadlines. None (a financing started
    # before it was passed): the review SLA counts calendar days, as it did then.
    calendar: WorkingCalendar | None = None
    # the supplier's channel: already approved at an accepted offer's terms. The default keeps
    # every history recorded before the field replaying as it ran (the branch is never taken)
    preapproved: Preapproval | None = None


# ---- messages that drive a financing ---------------------------------------------------


class Decision(ExternalInput):
    decision: Literal["approve", "reject"]
    approved_amount: InputMoney | None = None
    annual_rate: Rate | None = None
    term_days: int | None = Field(default=None, ge=-(2**31), le=2**31 - 1)
    reason: Text | None = None

    @model_validator(mode="after")
    def _complete(self) -> Decision:
        if self.decision == "approve":
            missing = [f for f in ("approved_amount", "annual_rate", "term_days") if getattr(self, f) is None]
            if missing:
                raise ValueError(f"an approval needs {', '.join(missing)}")
        return self


class Withdrawal(ExternalInput):
    reason: Text | None = None


class OfflineLockAnswer(ExternalInput):
    decision: Literal["confirmed", "refused"]
    note: Text | None = None
    recorded_by: SkipJsonSchema[str | None] = None  # set by the server: the operator


class AccountChangeEvent(ExternalInput):
    """The procurement system's signed callback: the purchaser's answer to the payee change."""

    event_id: Id
    contract_no: Id
    decision: Literal["confirmed", "refused"]
    decided_at: Instant


class TreasuryPayment(ExternalInput):
    payment_id: Id
    contract_no: Id
    payee_account_no: Id = Field(min_length=1, max_length=34)
    amount: InputMoney
    paid_on: date

    _positive = field_validator("amount")(greater_than_zero)


class SupplierRepayment(ExternalInput):
    repayment_id: Id
    amount: InputMoney
    paid_on: date

    _positive = field_validator("amount")(greater_than_zero)


class RepaymentReceipt(BaseModel):
    status: Literal["accepted", "duplicate"]


class WriteOff(ExternalInput):
    reason: Text = Field(min_length=1)


class DeadlineExtension(ExternalInput):
    """Ops: push the current stage's deadlines out by `days` (attention and expiry alike)."""

    days: int = Field(ge=1, le=90)
    note: Text | None = None
    recorded_by: SkipJsonSchema[str | None] = None  # set by the server: the operator


class OpsCancellation(ExternalInput):
    reason: Text = Field(min_length=1)
    recorded_by: SkipJsonSchema[str | None] = None  # set by the server: the operator


class ResendToBank(ExternalInput):
    note: Text | None = None
    recorded_by: SkipJsonSchema[str | None] = None  # set by the server: the operator


class AttentionAcknowledgement(ExternalInput):
    """Ops: a person has dealt with an attention flag that needs judgement (a misdirected
    payment, an ignored cancellation request) and says what was done; the flag is removed."""

    reason: Text = Field(
        min_length=1,
        max_length=200,
        description="the flag's key, as listed in the application's `attention[].key`",
        examples=["misdirected:T20270331-0001"],
    )
    note: Text = Field(
        min_length=1,
        description="what was done about it; kept in the application's timeline",
        examples=["treasury recalled the payment and paid it again to the locked account"],
    )
    recorded_by: SkipJsonSchema[str | None] = None  # set by the server: the operator


# ---- attention flags --------------------------------------------------------------------

# How each kind of flag the workflow raises goes away. A flag whose cause an action or an
# outside event removes is cleared by it; only flags that need a person's judgement (the
# process itself can do nothing about them) are acknowledged by ops.
ATTENTION_FIXES: dict[str, str] = {
    "deadline": (
        "clears itself when the awaited answer arrives; ops: extend-deadline (or resend-to-bank in "
        "bank_review, account-lock in account_lock, or cancel)"
    ),
    "disbursement": "clears itself once the bank confirms the payout (the call is retried until it answers)",
    "overdue": "clears itself when the loan is repaid in full or the bank writes it off",
    "cancel": "ops: acknowledge, once the requester was told a disbursed loan cannot be cancelled",
    "misdirected": (
        "ops: acknowledge, once the payment was sorted out with the purchaser and the treasury "
        "(e.g. recalled and paid again to the locked account)"
    ),
    "unapplied": (
        "ops: acknowledge, once the money that reached the collection account was returned to the "
        "supplier or otherwise settled with the bank (the financing ended before a loan was paid out)"
    ),
    "account_change": (
        "ops: acknowledge, once the purchaser's answer was checked with the procurement system "
        "(it came when the platform was not asking, or contradicts the answer already taken)"
    ),
}
ACKNOWLEDGEABLE_KINDS = frozenset({"cancel", "misdirected", "unapplied", "account_change"})
# Flags about a message that was kept for a person: they outlive the financing's end, and the
# process stays open (its record flagged) until ops acknowledge each of them.
HELD_MESSAGE_KINDS = frozenset({"misdirected", "unapplied", "account_change"})


def attention_kind(key: str) -> str:
    """A flag's kind: its key up to the first colon (`misdirected:<payment_id>` is `misdirected`)."""
    return key.partition(":")[0]


def is_acknowledgeable(key: str) -> bool:
    return attention_kind(key) in ACKNOWLEDGEABLE_KINDS


def is_held_message(key: str) -> bool:
    return attention_kind(key) in HELD_MESSAGE_KINDS


# ---- the view ---------------------------------------------------------------------------


class TimelineEntry(BaseModel):
    stage: Stage
    at: ShownInstant
    note: str | None = None


MessageKind = Literal["treasury_payment", "supplier_repayment", "account_change"]
# waiting: received, applied once its stage is reached; applied: booked (money) or taken (an
# answer); repeat: the same answer again under another id, nothing to do; kept: not applied,
# flagged for a person (see `note` and the application's attention).
MessageOutcomeKind = Literal["waiting", "applied", "repeat", "kept"]


class MessageOutcome(BaseModel):
    """What the financing did with one message it was given (an addition to API.md): every
    treasury payment, supplier repayment and purchaser's answer delivered to the process is
    here once, under its business id, with its outcome — none is dropped."""

    kind: MessageKind
    message_id: str
    amount: Money | None = None
    received_at: ShownInstant
    outcome: MessageOutcomeKind
    note: str | None = None
    # once money is applied: how it was split, when, and as what (a written-off loan's recovery)
    applied_at: ShownInstant | None = None
    applied_as: Literal["treasury", "supplier", "recovery"] | None = None
    penalty: Money | None = None
    interest: Money | None = None
    principal: Money | None = None
    surplus: Money | None = None


class AttentionItem(BaseModel):
    """One reason the application needs a person: its key (what `acknowledge` takes), its
    words (as in `attention_reasons`), whether ops may acknowledge it, and how it goes away."""

    key: str
    reason: str
    acknowledgeable: bool = False
    how_to_fix: str | None = None


def attention_items(flags: dict[str, str]) -> list[AttentionItem]:
    return [
        AttentionItem(
            key=key,
            reason=reason,
            acknowledgeable=is_acknowledgeable(key),
            how_to_fix=ATTENTION_FIXES.get(attention_kind(key)),
        )
        for key, reason in flags.items()
    ]


class ApplicationView(BaseModel):
    """GET /v1/applications/{id}: the fields of API.md, plus a few additions (marked)."""

    application_id: str
    contract_no: str
    bank_code: str
    product_code: str
    supplier_credit_code: str
    district: str | None = None
    stage: Stage
    requested_amount: Money
    approved_amount: Money | None = None
    annual_rate: Rate | None = None
    term_days: int | None = None
    disbursed_on: date | None = None
    maturity_date: date | None = None
    outstanding_principal: Money = ZERO
    interest_paid: Money = ZERO
    penalty_paid: Money = ZERO
    principal_repaid: Money = ZERO
    surplus_released: Money = ZERO
    needs_attention: bool = False
    attention_reasons: list[str] = Field(default_factory=list)
    timeline: list[TimelineEntry] = Field(default_factory=list)
    credit_profile: CreditProfile | None = None
    # additions to API.md (optional, extend-only)
    supplier_name: str | None = None
    eligible_maximum: Money | None = None
    interest_due: Money = ZERO
    penalty_due: Money = ZERO
    recovered_amount: Money = ZERO
    stage_since: ShownInstant | None = None
    stage_deadline: ShownInstant | None = None
    waiting_for: str | None = None
    final_reason: str | None = None
    disbursement_id: str | None = None
    submitted_at: ShownInstant | None = None
    version: int = 0
    attention: list[AttentionItem] = Field(default_factory=list)  # attention_reasons, with their keys
    messages: list[MessageOutcome] = Field(default_factory=list)  # every message delivered, with its outcome
    # the supplier's channel: the financing request and the bank's offer it was accepted from
    financing_request_id: str | None = None
    offer_id: str | None = None


class Recorded(BaseModel):
    """What the financing workflow answers an update with, and what it ends with: which
    version of its record shows the change. The application itself lives in the record
    (PostgreSQL), which the workflow wrote before answering; keeping the whole view out of
    Temporal's history is most of what makes a loan's history affordable (issue 11,
    docs/performance.md). `view` is set only when there is no record to read: a process that
    ended during verification (a refused submission never existed for any reader).

    A full ApplicationView (what workers before this change answered) reads as one of these:
    its id, stage and version are all an answer needs."""

    application_id: str
    stage: Stage
    version: int
    view: ApplicationView | None = None

    @classmethod
    def of(cls, view: ApplicationView, *, recorded: bool) -> Recorded:
        return cls(
            application_id=view.application_id,
            stage=view.stage,
            version=view.version,
            view=None if recorded else view,
        )
