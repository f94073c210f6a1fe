"""Hypothesis strategies for the domain's unit tests.

Money is built from integers of fen (never floats), rates from integers of basis points
of a basis point, so every generated value is exact.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from hypothesis import strategies as st

from domain.repayment import LoanTerms

FEN = Decimal("0.01")

CREDIT_CODE_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"


def fen(n: int) -> Decimal:
    """`n` fen as a two-place Decimal (exact: scaleb only moves the exponent)."""
    return Decimal(n).scaleb(-2)


def money(min_fen: int = 0, max_fen: int = 10_000_000_000) -> st.SearchStrategy[Decimal]:
    """Amounts from `min_fen` to `max_fen` fen (default up to ¥100 million)."""
    return st.integers(min_value=min_fen, max_value=max_fen).map(fen)


def positive_money(max_fen: int = 10_000_000_000) -> st.SearchStrategy[Decimal]:
    return money(1, max_fen)


def rates(min_ten_thousandths: int = 1, max_ten_thousandths: int = 1_000) -> st.SearchStrategy[Decimal]:
    """Annual rates in steps of 0.0001 (default 0.0001 … 0.1000)."""
    return st.integers(min_value=min_ten_thousandths, max_value=max_ten_thousandths).map(
        lambda n: Decimal(n).scaleb(-4)
    )


@st.composite
def loan_terms(draw: st.DrawFn) -> LoanTerms:
    disbursed_on = draw(st.dates(min_value=date(2024, 1, 1), max_value=date(2030, 12, 31)))
    term_days = draw(st.integers(min_value=1, max_value=365))
    return LoanTerms(
        principal=draw(positive_money(max_fen=10_000_000_000)),
        annual_rate=draw(rates()),
        penalty_multiplier=draw(st.sampled_from([Decimal("1"), Decimal("1.5"), Decimal("2"), Decimal("1.25")])),
        disbursed_on=disbursed_on,
        maturity_date=disbursed_on + timedelta(days=term_days),
        grace_days=draw(st.integers(min_value=0, max_value=10)),
    )


def payment_dates(terms: LoanTerms) -> st.SearchStrategy[date]:
    """Any day from a little before disbursement (back-dated) to well past maturity + grace."""
    return st.dates(
        min_value=terms.disbursed_on - timedelta(days=5),
        max_value=terms.last_grace_day + timedelta(days=120),
    )


def payment_amounts(terms: LoanTerms) -> st.SearchStrategy[Decimal]:
    """Small partial payments, payments around the principal, and large overpayments."""
    principal_fen = int(terms.principal * 100)
    return st.one_of(
        positive_money(max_fen=1_000),
        positive_money(max_fen=max(1, principal_fen // 3)),
        positive_money(max_fen=principal_fen * 2),
    )


credit_code_chars = st.sampled_from(CREDIT_CODE_ALPHABET)
eight_chars = st.text(alphabet=CREDIT_CODE_ALPHABET, min_size=8, max_size=8)
