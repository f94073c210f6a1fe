"""Rules a bank would recognise, applied while a financing is verified and decided: the
contract checks (refusal 4 of API.md, in its order) and the validation of a bank's decision.

Pure functions over domain models: the workflow calls them, and so can any other reader that
must answer exactly as the verification would.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from domain.application import Decision
from domain.contracts import Contract, ContractStatus
from domain.products import Product, eligible_maximum, known_paid


def contract_eligible_maximum(product: Product, contract: Contract, recorded_payments: Decimal) -> Decimal:
    """What `product` lends at most on `contract` (API.md: max_ratio × (amount − paid), rounded
    down to the fen), paid counted as the platform knows it (v1.1: the larger of the procurement
    system's `paid_amount` and the treasury payments recorded). Verification decides with it, and
    the supplier's channel shows what every bank would lend with it: one rule, one function."""
    return eligible_maximum(product, contract.amount, known_paid(contract.paid_amount, recorded_payments))


def contract_problem(
    *,
    supplier_credit_code: str,
    contract_supplier: str,
    status: ContractStatus,
    bank_code: str,
    product_code: str,
    product: Product | None,
    requested_amount: Decimal,
    eligible_max: Decimal | None,
) -> str | None:
    """Why the contract cannot be financed as requested, in API.md's order; None when it can.
    `eligible_max` is None when there is no product to compute it from."""
    if supplier_credit_code != contract_supplier:
        return "supplier_credit_code does not match the contract's supplier"
    if status != ContractStatus.EFFECTIVE:
        return f"the contract is {status}, not effective"
    if product is None:
        return f"bank {bank_code} has no product {product_code}"
    if eligible_max is not None and requested_amount > eligible_max:
        return (
            f"requested_amount {requested_amount} is above the eligible maximum "
            f"{eligible_max} ({product.max_ratio} of the unpaid contract balance)"
        )
    return None


def decision_problems(
    decision: Decision, product: Product, requested_amount: Decimal, eligible_max: Decimal | None
) -> list[str]:
    """What is wrong with an approval (API.md: amount within 0 < x ≤ requested and ≤ eligible
    maximum, rate within the product's range inclusive, term within 1..max_term_days). A
    rejection is always well-formed."""
    if decision.decision == "reject":
        return []
    assert decision.approved_amount is not None and decision.annual_rate is not None
    assert decision.term_days is not None  # Decision's own validator requires them for an approval
    problems = []
    if decision.approved_amount <= 0:
        problems.append("approved_amount must be greater than 0")
    if decision.approved_amount > requested_amount:
        problems.append(f"approved_amount is above the requested amount {requested_amount}")
    if eligible_max is not None and decision.approved_amount > eligible_max:
        problems.append(f"approved_amount is above the eligible maximum {eligible_max}")
    if not product.min_rate <= decision.annual_rate <= product.max_rate:
        problems.append(f"annual_rate must be within {product.min_rate}..{product.max_rate}")
    if not 1 <= decision.term_days <= product.max_term_days:
        problems.append(f"term_days must be within 1..{product.max_term_days}")
    return problems


def repayment_date_problem(paid_on: date, disbursed_on: date, today: date) -> str | None:
    """A supplier's repayment is dated between the payout and today (API.md v1.1): a future
    date would book interest not yet owed, one before the payout repays money not yet lent."""
    if future := payment_date_problem(paid_on, today):
        return future
    if paid_on < disbursed_on:
        return f"paid_on {paid_on} is before the loan's disbursement on {disbursed_on}"
    return None


def payment_date_problem(paid_on: date, today: date) -> str | None:
    """A treasury payment has happened: its date is not after today's business date."""
    if paid_on > today:
        return f"paid_on {paid_on} is after today's business date {today}"
    return None
