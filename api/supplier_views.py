"""What the supplier's channel shows, computed from the platform's records and the procurement
system with the rules the bank channel uses: eligibility by `contract_eligible_maximum` (the
function verification decides with), an offer checked by `decision_problems`, the maturity
advice of `domain.maturity`, and the credit profile's reasons in plain words."""

from __future__ import annotations

from collections.abc import Awaitable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any, TypeVar

from api.problems import Problem, upstream_unavailable
from api.state import AppState
from domain.application import ApplicationView, Decision, business_date
from domain.contracts import Contract
from domain.credit_profile import plain_reasons
from domain.errors import ErrorCode
from domain.maturity import estimated_maturity, maturity_warning, suggested_term_days
from domain.money import ZERO
from domain.products import Product, eligible_maximum, known_paid
from domain.stages import Stage
from domain.supplier_channel import (
    ActiveFinancing,
    BankRequestView,
    OfferBody,
    OfferView,
    OpenRequest,
    ProductOffer,
    RequestContract,
    SupplierApplicationView,
    SupplierContract,
    SupplierCreditProfile,
    SupplierRequestView,
    TermAdvice,
)
from domain.verification import contract_eligible_maximum, contract_problem, decision_problems
from integrations.errors import ExternalRefusal, ExternalUnavailable
from integrations.procurement import ProcurementClient
from store.banks import Bank
from store.financing_requests import OfferRecord, RequestRecord

T = TypeVar("T")

# the seeded products' longest term: the cap of a suggestion when no product is at hand
LONGEST_TERM_DAYS = 365


@dataclass(frozen=True)
class Catalogue:
    """Every seeded bank and product, read once per request."""

    pairs: list[tuple[Bank, Product]]

    @classmethod
    async def read(cls, state: AppState) -> Catalogue:
        return cls(await state.repos.banks.every_product())

    @property
    def bank_names(self) -> dict[str, str]:
        return {bank.bank_code: bank.name for bank, _ in self.pairs}

    def product(self, bank_code: str, product_code: str) -> Product | None:
        return next((p for b, p in self.pairs if b.bank_code == bank_code and p.product_code == product_code), None)

    @property
    def longest_term(self) -> int:
        return max((p.max_term_days for _, p in self.pairs), default=LONGEST_TERM_DAYS)


def today() -> date:
    return business_date(datetime.now(UTC))


def procurement(state: AppState) -> ProcurementClient:
    return ProcurementClient.from_settings(state.settings, state.http)


async def asking_procurement(call: Awaitable[T]) -> T:
    """A call to the procurement system as the API answers it: an unknown contract is 404
    `contract_not_found`, any other refusal or an outage 503 (the caller may retry)."""
    try:
        return await call
    except ExternalRefusal as refusal:
        if refusal.code == "contract_not_found":
            raise Problem(ErrorCode.CONTRACT_NOT_FOUND, "the procurement system knows no such contract") from refusal
        raise upstream_unavailable("the procurement system refused to answer; retry later") from refusal
    except ExternalUnavailable as error:
        raise upstream_unavailable("the procurement system cannot be reached; retry later") from error


def why_not_financeable(contract: Contract, credit_code: str, product: Product | None) -> str | None:
    """What verification would refuse the contract for, whatever the amount (None: nothing)."""
    return contract_problem(
        supplier_credit_code=credit_code,
        contract_supplier=contract.supplier.credit_code,
        status=contract.status,
        bank_code="any bank",
        product_code=product.product_code if product else "STD",
        product=product,
        requested_amount=ZERO,
        eligible_max=None,
    )


def product_offer(
    bank: Bank, product: Product, eligible: Decimal, expected_payment_date: date, on: date
) -> ProductOffer:
    return ProductOffer(
        bank_code=bank.bank_code,
        bank_name=bank.name,
        product_code=product.product_code,
        eligible_maximum=eligible,
        min_rate=product.min_rate,
        max_rate=product.max_rate,
        max_term_days=product.max_term_days,
        maturity_warning=maturity_warning(product.max_term_days, on, expected_payment_date, product.max_term_days),
    )


def what_each_bank_would_lend(
    contract: Contract, credit_code: str, recorded_payments: Decimal, products: list[tuple[Bank, Product]], on: date
) -> list[ProductOffer]:
    """Every seeded product's eligible maximum on the contract, as the verification computes
    it; 0.00 where verification would refuse the contract itself."""
    offers = []
    for bank, product in products:
        refused = why_not_financeable(contract, credit_code, product) is not None
        eligible = ZERO if refused else contract_eligible_maximum(product, contract, recorded_payments)
        offers.append(product_offer(bank, product, eligible, contract.expected_payment_date, on))
    return offers


async def supplier_contracts(state: AppState, credit_code: str) -> list[SupplierContract]:
    """The supplier's contracts as the procurement system holds them, each with its active
    financing or open request, what every bank's product would lend on it and the term advice."""
    found = await asking_procurement(procurement(state).supplier_contracts(credit_code))
    catalogue = await Catalogue.read(state)
    on = today()
    items: list[SupplierContract] = []
    for contract in found:
        recorded = await state.repos.payments.recorded_total(contract.contract_no)
        offers = what_each_bank_would_lend(contract, credit_code, recorded, catalogue.pairs, on)
        refusal = why_not_financeable(contract, credit_code, catalogue.pairs[0][1] if catalogue.pairs else None)
        listed, _ = await state.repos.applications.list(contract_no=contract.contract_no, limit=20)
        holding = next((v for v in listed if active(v) and v.supplier_credit_code == credit_code), None)
        in_play = await state.repos.financing_requests.in_play_for(contract.contract_no)
        days_until = (contract.expected_payment_date - on).days
        items.append(
            SupplierContract(
                contract_no=contract.contract_no,
                project_name=contract.project_name,
                purchaser=contract.purchaser,
                amount=contract.amount,
                paid_amount=known_paid(contract.paid_amount, recorded),
                status=contract.status,
                financing=ActiveFinancing(
                    application_id=holding.application_id, stage=holding.stage, bank_code=holding.bank_code
                )
                if holding
                else None,
                offers=offers,
                expected_payment_date=contract.expected_payment_date,
                signed_on=contract.signed_on,
                financeable=refusal is None and holding is None and in_play is None,
                not_financeable_because=refusal
                or ("an application is active on this contract" if holding else None)
                or ("a financing request is open on this contract" if in_play else None),
                financing_request=OpenRequest(
                    request_id=in_play.request_id,
                    status=in_play.status,
                    offers=sum(1 for o in in_play.offers if o.status == "open"),
                )
                if in_play
                else None,
                term_advice=TermAdvice(
                    expected_payment_date=contract.expected_payment_date,
                    days_until_payment=days_until,
                    suggested_term_days=suggested_term_days(on, contract.expected_payment_date, catalogue.longest_term),
                ),
            )
        )
    return items


def request_problem(
    contract: Contract, credit_code: str, requested_amount: Decimal, catalogue: Catalogue, recorded_payments: Decimal
) -> str | None:
    """What verification would refuse a supplier's financing request for, judged with the
    product that lends the most on the contract (a request goes to every bank); None: nothing."""
    best = max(
        catalogue.pairs,
        key=lambda pair: contract_eligible_maximum(pair[1], contract, recorded_payments),
        default=None,
    )
    problem = contract_problem(
        supplier_credit_code=credit_code,
        contract_supplier=contract.supplier.credit_code,
        status=contract.status,
        bank_code="any bank",
        product_code="any product",
        product=best[1] if best else None,
        requested_amount=requested_amount,
        eligible_max=contract_eligible_maximum(best[1], contract, recorded_payments) if best else None,
    )
    return problem.replace("bank any bank has no product any product", "no bank") if problem is not None else None


async def offered_product(state: AppState, bank_code: str, request: RequestRecord, body: OfferBody) -> Product:
    """The product a bank offers with, once the offer passes what a decision must: 422 for a
    product the bank does not have, 409 unless the request is open, 422 for terms a decision
    could not take against what the product lends on the contract now (as verification
    computes it: the procurement system's contract, the payments the platform recorded)."""
    product = await state.repos.banks.get_product(bank_code, body.product_code)
    if product is None:
        raise Problem(ErrorCode.VALIDATION_ERROR, f"bank {bank_code} has no product {body.product_code}")
    if request.status != "open":
        raise Problem(ErrorCode.INVALID_STATE, f"the financing request is {request.status}, not open")
    contract = await asking_procurement(procurement(state).get_contract(request.contract_no))
    recorded = await state.repos.payments.recorded_total(request.contract_no)
    eligible = contract_eligible_maximum(product, contract, recorded)
    decision = Decision(
        decision="approve",
        approved_amount=body.approved_amount,
        annual_rate=body.annual_rate,
        term_days=body.term_days,
    )
    problems = decision_problems(decision, product, request.requested_amount, eligible)
    if problems:
        raise Problem(ErrorCode.VALIDATION_ERROR, "; ".join(problems))
    return product


def request_contract(contract: Contract, paid: Decimal) -> RequestContract:
    return RequestContract(
        contract_no=contract.contract_no,
        project_name=contract.project_name,
        purchaser=contract.purchaser,
        amount=contract.amount,
        paid_amount=paid,
        signed_on=contract.signed_on,
        expected_payment_date=contract.expected_payment_date,
    )


def offer_view(offer: OfferRecord, request: RequestRecord, catalogue: Catalogue, on: date) -> OfferView:
    product = catalogue.product(offer.bank_code, offer.product_code)
    longest = product.max_term_days if product is not None else catalogue.longest_term
    return OfferView(
        offer_id=offer.offer_id,
        request_id=offer.request_id,
        bank_code=offer.bank_code,
        bank_name=catalogue.bank_names.get(offer.bank_code),
        product_code=offer.product_code,
        approved_amount=offer.approved_amount,
        annual_rate=offer.annual_rate,
        term_days=offer.term_days,
        status=offer.status,
        created_at=offer.created_at,
        estimated_maturity_date=estimated_maturity(offer.term_days, on),
        maturity_warning=maturity_warning(offer.term_days, on, request.contract.expected_payment_date, longest),
    )


def _base(request: RequestRecord, catalogue: Catalogue, on: date) -> dict[str, Any]:
    return {
        "request_id": request.request_id,
        "status": request.status,
        "contract_no": request.contract_no,
        "supplier_credit_code": request.supplier_credit_code,
        "supplier_name": request.supplier_name,
        "requested_amount": request.requested_amount,
        "contract": request.contract,
        "created_at": request.created_at,
        "expires_at": request.expires_at,
        "application_id": request.application_id,
        "accepted_offer_id": request.accepted_offer_id,
        "suggested_term_days": suggested_term_days(on, request.contract.expected_payment_date, catalogue.longest_term),
    }


def supplier_request_view(request: RequestRecord, catalogue: Catalogue, on: date) -> SupplierRequestView:
    return SupplierRequestView(
        **_base(request, catalogue, on),
        offers=[offer_view(o, request, catalogue, on) for o in request.offers],
        collection_account={
            "account_no": request.collection_account_no,
            "account_name": request.collection_account_name,
        },
    )


def bank_request_view(
    request: RequestRecord, bank_code: str, product_code: str, catalogue: Catalogue, on: date
) -> BankRequestView:
    """A bank's view of a request: its own offers only (never another bank's terms), no
    collection account, and what its product would lend on the contract as the request read it."""
    expected = request.contract.expected_payment_date
    product = catalogue.product(bank_code, product_code)
    bank = next((b for b, _ in catalogue.pairs if b.bank_code == bank_code), None)
    eligible = eligible_maximum(product, request.contract.amount, request.known_paid) if product is not None else None
    base = _base(request, catalogue, on)
    if product is not None:
        base["suggested_term_days"] = suggested_term_days(on, expected, product.max_term_days)
    return BankRequestView(
        **base,
        offers=[offer_view(o, request, catalogue, on) for o in request.offers if o.bank_code == bank_code],
        eligible_maximum=eligible,
        product=product_offer(bank, product, eligible, expected, on)
        if bank and product and eligible is not None
        else None,
        credit_profile=request.credit_profile.model_dump(mode="json"),
        credit_reasons=plain_reasons(request.credit_profile),
    )


def supplier_application(view: ApplicationView) -> dict[str, Any]:
    """A bank's view of the application without the credit profile's inputs: the supplier
    sees its score, grade and their reasons in plain words."""
    data = view.model_dump(mode="json")
    profile = view.credit_profile
    data["credit_profile"] = (
        SupplierCreditProfile(score=profile.score, grade=profile.grade, reasons=plain_reasons(profile)).model_dump()
        if profile is not None
        else None
    )
    return SupplierApplicationView.model_validate(data).model_dump(mode="json")


def active(view: ApplicationView) -> bool:
    """Still holding the contract: an active stage, or written off (the bank keeps its claim)."""
    return not view.stage.is_final or view.stage == Stage.WRITTEN_OFF
