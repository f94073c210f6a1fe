"""docs/money.md's worked examples, recomputed from the domain's own functions.

Every table row of the examples in docs/money.md is produced here by `domain/repayment.py`
and `domain/products.py`; the test fails as soon as the document and the code disagree.
`python -m tests.unit.test_docs_money` prints the rows (that is how the document was written).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from domain.money import money_str, round_half_up
from domain.products import STANDARD_PRODUCT, eligible_maximum
from domain.repayment import (
    DAYS_IN_YEAR,
    LoanBalance,
    LoanTerms,
    allocate,
    apply_allocation,
    is_penalty_due,
    open_balance,
)

DOC = Path(__file__).resolve().parents[2] / "docs" / "money.md"

D = Decimal


@dataclass(frozen=True)
class Payment:
    paid_on: date
    source: str  # "treasury" or "supplier": the rules are the same, the table says which
    amount: Decimal


@dataclass(frozen=True)
class Example:
    name: str
    principal: Decimal
    annual_rate: Decimal
    disbursed_on: date
    term_days: int
    payments: tuple[Payment, ...]
    overdue: bool = False  # the loan is in stage `overdue` when the payments arrive


def terms_of(example: Example) -> LoanTerms:
    return LoanTerms(
        principal=example.principal,
        annual_rate=example.annual_rate,
        penalty_multiplier=STANDARD_PRODUCT.penalty_multiplier,
        disbursed_on=example.disbursed_on,
        maturity_date=example.disbursed_on + timedelta(days=example.term_days),
        grace_days=STANDARD_PRODUCT.grace_days,
    )


DISBURSED = date(2026, 11, 27)

EXAMPLES = (
    Example(
        "same-day",
        D("700000.00"),
        D("0.0385"),
        DISBURSED,
        180,
        (Payment(DISBURSED, "treasury", D("1000000.00")),),
    ),
    Example(
        "partial",
        D("700000.00"),
        D("0.0385"),
        DISBURSED,
        180,
        (
            Payment(date(2027, 1, 26), "supplier", D("300000.00")),
            Payment(date(2027, 1, 26), "supplier", D("1000.00")),
            Payment(date(2027, 3, 31), "treasury", D("500000.00")),
        ),
    ),
    Example(
        "within-grace",
        D("700000.00"),
        D("0.0385"),
        DISBURSED,
        180,
        (Payment(date(2027, 5, 28), "supplier", D("720000.00")),),
    ),
    Example(
        "overdue",
        D("700000.00"),
        D("0.0385"),
        DISBURSED,
        180,
        (
            Payment(date(2027, 6, 15), "treasury", D("400000.00")),
            Payment(date(2027, 7, 15), "treasury", D("600000.00")),
        ),
        overdue=True,
    ),
    Example(
        "half-up",
        D("1000.00"),
        D("0.0306"),
        DISBURSED,
        30,
        (Payment(DISBURSED + timedelta(days=1), "supplier", D("1000.09")),),
    ),
)

ELIGIBILITY = (
    (D("1000000.00"), D("0.00")),
    (D("1234567.89"), D("100000.01")),
    (D("500000.00"), D("499999.99")),
)


def _fmt(amount: Decimal) -> str:
    return money_str(amount)


def header(example: Example) -> str:
    terms = terms_of(example)
    return (
        f"Terms ({example.name}): principal {_fmt(terms.principal)}, annual_rate {terms.annual_rate}, "
        f"disbursed_on {terms.disbursed_on}, term_days {example.term_days}, maturity_date {terms.maturity_date}, "
        f"last grace day {terms.last_grace_day}."
    )


def rows(example: Example) -> list[str]:
    """One table row per payment: how it was split and what is left."""
    terms = terms_of(example)
    balance: LoanBalance = open_balance(terms)
    lines = []
    for payment in example.payments:
        start = balance.accrued_until
        end = max(payment.paid_on, terms.disbursed_on + timedelta(days=1))
        days = max(0, (end - start).days)
        penalty_mode = is_penalty_due(terms, payment.paid_on, overdue=example.overdue)
        split = allocate(terms, balance, payment.amount, payment.paid_on, overdue=example.overdue)
        balance = apply_allocation(balance, split)
        lines.append(
            f"| {payment.paid_on} | {payment.source} | {_fmt(payment.amount)} | {start} → {end} ({days} d)"
            f"{' penalty' if penalty_mode else ''} | {_fmt(split.penalty)} | {_fmt(split.interest)} "
            f"| {_fmt(split.principal)} | {_fmt(split.surplus)} | {_fmt(balance.outstanding_principal)} |"
        )
    return lines


def totals(example: Example) -> str:
    terms = terms_of(example)
    balance = open_balance(terms)
    for payment in example.payments:
        balance = apply_allocation(
            balance, allocate(terms, balance, payment.amount, payment.paid_on, overdue=example.overdue)
        )
    received = sum((p.amount for p in example.payments), D("0.00"))
    return (
        f"Totals ({example.name}): penalty {_fmt(balance.penalty_paid)}, interest {_fmt(balance.interest_paid)}, "
        f"principal {_fmt(balance.principal_repaid)}, surplus {_fmt(balance.surplus_released)}, "
        f"received {_fmt(received)}."
    )


def eligibility_row(amount: Decimal, paid: Decimal) -> str:
    exact = STANDARD_PRODUCT.max_ratio * (amount - paid)
    return (
        f"| {_fmt(amount)} | {_fmt(paid)} | {_fmt(amount - paid)} | {exact.normalize():f} "
        f"| {_fmt(eligible_maximum(STANDARD_PRODUCT, amount, paid))} |"
    )


def all_rows() -> list[str]:
    lines: list[str] = []
    for example in EXAMPLES:
        lines += [header(example), *rows(example), totals(example)]
    lines += [eligibility_row(amount, paid) for amount, paid in ELIGIBILITY]
    return lines


def test_every_example_row_is_in_the_document() -> None:
    text = DOC.read_text(encoding="utf-8")
    missing = [line for line in all_rows() if line not in text]
    assert not missing, "docs/money.md disagrees with domain/repayment.py; expected rows:\n" + "\n".join(missing)


def test_the_headline_example() -> None:
    """API.md's example: 700,000.00 at 3.85 %, repaid the day it was paid out."""
    example = EXAMPLES[0]
    split = allocate(terms_of(example), open_balance(terms_of(example)), D("1000000.00"), DISBURSED, overdue=False)
    assert (split.interest, split.principal, split.surplus) == (D("74.86"), D("700000.00"), D("299925.14"))
    assert "74.86" in DOC.read_text(encoding="utf-8") and "299925.14" in DOC.read_text(encoding="utf-8")


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda e: e.name)
def test_every_split_adds_up(example: Example) -> None:
    terms = terms_of(example)
    balance = open_balance(terms)
    for payment in example.payments:
        split = allocate(terms, balance, payment.amount, payment.paid_on, overdue=example.overdue)
        assert split.penalty + split.interest + split.principal + split.surplus == payment.amount
        balance = apply_allocation(balance, split)


def test_the_formulas_quoted_in_the_document() -> None:
    """The one-line computations the document writes out by hand."""
    text = DOC.read_text(encoding="utf-8")
    one_day = D("700000.00") * D("0.0385") * 1 / DAYS_IN_YEAR
    assert f"{one_day.quantize(D('0.000001'))}" in text and _fmt(round_half_up(one_day)) in text
    half = D("1000.00") * D("0.0306") * 1 / DAYS_IN_YEAR
    assert f"{half.normalize():f}" in text and _fmt(round_half_up(half)) == "0.09"
    penalty_rate = D("0.0385") * STANDARD_PRODUCT.penalty_multiplier
    assert f"{penalty_rate.normalize():f}" in text


if __name__ == "__main__":
    print("\n".join(all_rows()))
