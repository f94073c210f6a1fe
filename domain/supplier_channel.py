"""What the supplier's channel takes and answers (API.md v1.1 "Suppliers"): signing in, the
supplier's contracts with what each bank would lend, financing requests and banks' offers.

The rules behind the figures live elsewhere and are shared with the bank channel: eligibility in
`domain.verification.contract_eligible_maximum` (the very function verification uses), an offer's
validation in `domain.verification.decision_problems`, the maturity advice in `domain.maturity`.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, Field, field_validator

from domain.application import ApplicationView, CollectionAccount, ExternalInput, ShownInstant
from domain.contracts import ContractStatus, Purchaser
from domain.credit_code import credit_code_problem
from domain.inputs import Id, InputMoney, greater_than_zero
from domain.maturity import MaturityWarning
from domain.money import Money, Rate
from domain.stages import Stage
from domain.working_days import WorkingCalendar, end_of_working_days


def _credit_code(value: str) -> str:
    problem = credit_code_problem(value)
    if problem:
        raise ValueError(problem)
    return value


# ---- signing in ---------------------------------------------------------------------------


class LoginCodeRequest(ExternalInput):
    credit_code: Id = Field(description="the supplier's unified social credit code (GB 32100-2015)")

    @field_validator("credit_code")
    @classmethod
    def _valid(cls, value: str) -> str:
        return _credit_code(value)


class LoginCodeAnswer(BaseModel):
    """The same answer whether or not a supplier holds the credit code."""

    status: Literal["accepted"] = "accepted"
    code_lifetime_seconds: int
    resend_after_seconds: int


class SessionRequest(ExternalInput):
    credit_code: Id
    code: str = Field(pattern=r"^[0-9]{6}$", description="the six digits of the SMS")

    @field_validator("credit_code")
    @classmethod
    def _valid(cls, value: str) -> str:
        return _credit_code(value)


class SessionAnswer(BaseModel):
    token: str = Field(description="a Bearer credential of principal kind supplier")
    expires_at: ShownInstant
    credit_code: str


# ---- contracts and what banks would lend ----------------------------------------------------


class ProductOffer(BaseModel):
    """What one bank's product would lend on a contract, computed as the verification would."""

    bank_code: str
    bank_name: str
    product_code: str
    eligible_maximum: Money
    min_rate: Rate
    max_rate: Rate
    max_term_days: int
    # smart service (an addition): the product's longest term still ends before the treasury pays
    maturity_warning: MaturityWarning | None = None


class ActiveFinancing(BaseModel):
    application_id: str
    stage: Stage
    bank_code: str


class OpenRequest(BaseModel):
    request_id: str
    status: str
    offers: int


class TermAdvice(BaseModel):
    """When the contract's money is expected, and the loan term that ends after it."""

    expected_payment_date: date
    days_until_payment: int
    suggested_term_days: int


class SupplierContract(BaseModel):
    contract_no: str
    project_name: str
    purchaser: Purchaser
    amount: Money
    paid_amount: Money  # as verification counts it: the larger of procurement's and the treasury payments seen
    status: ContractStatus
    financing: ActiveFinancing | None
    offers: list[ProductOffer]
    # additions
    expected_payment_date: date
    signed_on: date
    financeable: bool
    not_financeable_because: str | None = None
    financing_request: OpenRequest | None = None
    term_advice: TermAdvice | None = None


# ---- financing requests and offers ----------------------------------------------------------


class FinancingRequestBody(ExternalInput):
    contract_no: Id
    requested_amount: InputMoney
    collection_account: CollectionAccount

    _positive = field_validator("requested_amount")(greater_than_zero)


class OfferBody(ExternalInput):
    approved_amount: InputMoney
    annual_rate: Rate
    term_days: int = Field(ge=-(2**31), le=2**31 - 1)
    product_code: Id = Field(default="STD", min_length=1, max_length=32)


class AcceptBody(ExternalInput):
    offer_id: Id


RequestStatus = Literal["open", "accepting", "accepted", "cancelled", "expired"]
OfferStatus = Literal["open", "accepted", "lapsed", "replaced"]


def request_expires_at(calendar: WorkingCalendar, created_at: datetime, open_working_days: int) -> datetime:
    """When a request made at `created_at` expires if it is still open: the end (midnight, business
    time) of the `open_working_days`-th working day after the day it was made — counted as the
    review SLA is, so a request made on a Friday afternoon before a holiday gets its full days."""
    return end_of_working_days(calendar, created_at, open_working_days)


class OfferView(BaseModel):
    offer_id: str
    request_id: str
    bank_code: str
    bank_name: str | None = None
    product_code: str
    approved_amount: Money
    annual_rate: Rate
    term_days: int
    status: OfferStatus
    created_at: ShownInstant
    # smart service: the estimated maturity, and a warning when it falls before the money comes
    estimated_maturity_date: date
    maturity_warning: MaturityWarning | None = None


class RequestContract(BaseModel):
    """The contract as the banks decide on it (read when the request was made)."""

    contract_no: str
    project_name: str
    purchaser: Purchaser
    amount: Money
    paid_amount: Money
    signed_on: date
    expected_payment_date: date


class FinancingRequestView(BaseModel):
    request_id: str
    status: RequestStatus
    contract_no: str
    supplier_credit_code: str
    supplier_name: str | None = None
    requested_amount: Money
    contract: RequestContract
    created_at: ShownInstant
    # an addition: while the request is open, when it expires (then `expired`, its offers lapsed);
    # a request being accepted never expires
    expires_at: ShownInstant
    application_id: str | None = None
    accepted_offer_id: str | None = None
    offers: list[OfferView] = Field(default_factory=list)
    suggested_term_days: int | None = None


class SupplierRequestView(FinancingRequestView):
    """The supplier's view: its collection account, and every bank's offer."""

    collection_account: CollectionAccount


class CreditSummary(BaseModel):
    """What a bank sees of the supplier's portrait when it offers (with the inputs)."""

    score: int
    grade: str
    reasons: list[str]  # the portrait's reasons in plain Chinese


class BankRequestView(FinancingRequestView):
    """A bank's view: no collection account, its own offers only, and what it may offer:
    the eligible maximum of its product and the supplier's credit profile."""

    eligible_maximum: Money | None = None
    product: ProductOffer | None = None
    credit_profile: dict[str, object] | None = None
    credit_reasons: list[str] = Field(default_factory=list)


class SupplierCreditProfile(BaseModel):
    """The credit profile without its inputs, with its reasons in plain words."""

    score: int
    grade: str
    reasons: list[str]


class SupplierApplicationView(ApplicationView):
    """The application as its supplier sees it: a bank's view without the credit profile's inputs."""

    credit_profile: SupplierCreditProfile | None = None  # type: ignore[assignment]
