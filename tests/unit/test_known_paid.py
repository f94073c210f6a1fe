"""Eligibility counts what the platform knows was paid: the larger of the procurement
system's paid_amount and the treasury payments the platform recorded."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from domain.products import STANDARD_PRODUCT, eligible_maximum, known_paid

D = Decimal
fen = st.integers(min_value=0, max_value=10**14).map(lambda n: D(n).scaleb(-2))


def test_the_larger_of_the_two_counts() -> None:
    assert known_paid(D("100.00"), D("250.00")) == D("250.00")  # procurement lags behind the treasury
    assert known_paid(D("300.00"), D("250.00")) == D("300.00")  # paid outside the platform too
    assert known_paid(D("0.00"), D("0.00")) == D("0.00")


def test_a_contract_paid_in_full_through_the_platform_has_nothing_left_to_finance() -> None:
    amount = D("1000000.00")
    assert eligible_maximum(STANDARD_PRODUCT, amount, known_paid(D("0.00"), amount)) == D("0.00")
    assert eligible_maximum(STANDARD_PRODUCT, amount, known_paid(D("0.00"), D("400000.00"))) == D("540000.00")


@given(fen, fen)
def test_never_less_than_either_and_always_one_of_them(procurement: Decimal, recorded: Decimal) -> None:
    paid = known_paid(procurement, recorded)
    assert paid >= procurement and paid >= recorded
    assert paid in (procurement, recorded)
    assert paid.as_tuple().exponent == -2  # still money to the fen
