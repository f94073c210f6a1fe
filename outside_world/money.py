"""What a client pays, by the platform's money rules (domain/repayment.py), never re-derived."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from domain.products import STANDARD_PRODUCT, Product
from domain.repayment import LoanTerms, accrue, open_balance


def loan_terms(principal: Decimal, view: dict[str, Any], product: Product = STANDARD_PRODUCT) -> LoanTerms:
    """A disbursed application's terms, from its view and its product."""
    return LoanTerms(
        principal=principal,
        annual_rate=Decimal(view["annual_rate"]),
        penalty_multiplier=product.penalty_multiplier,
        disbursed_on=date.fromisoformat(view["disbursed_on"]),
        maturity_date=date.fromisoformat(view["maturity_date"]),
        grace_days=product.grace_days,
    )


def interest_to(terms: LoanTerms, paid_on: date) -> Decimal:
    """The interest a loan with nothing repaid yet owes on `paid_on` (before maturity)."""
    return accrue(terms, open_balance(terms), paid_on, penalty_mode=False).interest


def settling_amount(principal: Decimal, view: dict[str, Any], paid_on: date | None = None) -> Decimal:
    """What repays a loan with nothing repaid yet exactly, on `paid_on` (its disbursement day
    unless given): the principal and the interest accrued."""
    terms = loan_terms(principal, view)
    return principal + interest_to(terms, paid_on or terms.disbursed_on)


def one_day_interest(principal: Decimal, annual_rate: Decimal, product: Product = STANDARD_PRODUCT) -> Decimal:
    """What a loan repaid on its disbursement day owes (API.md: the first day counts)."""
    day = date(2026, 1, 1)  # any day: one day's interest does not depend on which
    terms = LoanTerms(
        principal=principal,
        annual_rate=annual_rate,
        penalty_multiplier=product.penalty_multiplier,
        disbursed_on=day,
        maturity_date=day + timedelta(days=product.max_term_days),
        grace_days=product.grace_days,
    )
    return interest_to(terms, day)
