"""The smart service's maturity advice (domain/maturity.py): a warning when a loan paid out today
falls due before the contract's expected payment, with a term that ends after it."""

from __future__ import annotations

from datetime import date, timedelta

from hypothesis import given
from hypothesis import strategies as st

from domain.maturity import PAYMENT_SLACK_DAYS, estimated_maturity, maturity_warning, suggested_term_days

TODAY = date(2026, 11, 27)
EXPECTED = date(2027, 3, 31)  # 124 days after TODAY


def test_a_term_that_ends_before_the_expected_payment_is_warned_about() -> None:
    warning = maturity_warning(90, TODAY, EXPECTED, 365)
    assert warning is not None
    assert warning.estimated_maturity_date == date(2027, 2, 25)
    assert warning.days_short == 34
    assert warning.suggested_term_days == 124 + PAYMENT_SLACK_DAYS
    assert warning.fits_within_product
    assert "2027-02-25" in warning.message and "2027-03-31" in warning.message
    assert "建议期限 154 天" in warning.message


def test_a_term_ending_on_or_after_the_expected_payment_is_not_warned_about() -> None:
    assert maturity_warning(124, TODAY, EXPECTED, 365) is None  # due the very day the money comes
    assert maturity_warning(180, TODAY, EXPECTED, 365) is None
    assert maturity_warning(123, TODAY, EXPECTED, 365) is not None


def test_when_even_the_longest_term_is_too_short_the_warning_says_so() -> None:
    far = TODAY + timedelta(days=400)
    warning = maturity_warning(180, TODAY, far, 365)
    assert warning is not None
    assert not warning.fits_within_product
    assert warning.suggested_term_days == 365
    assert "最长期限 365 天" in warning.message


def test_the_suggestion_stays_within_the_product_and_is_never_below_one() -> None:
    assert suggested_term_days(TODAY, TODAY + timedelta(days=10), 20) == 20
    assert suggested_term_days(TODAY, TODAY - timedelta(days=100), 365) == PAYMENT_SLACK_DAYS  # already late
    assert suggested_term_days(TODAY, TODAY, 1) == 1


@given(
    term=st.integers(1, 365),
    days_until=st.integers(-60, 500),
    max_term=st.integers(1, 365),
)
def test_a_suggested_term_that_fits_the_product_ends_after_the_expected_payment(
    term: int, days_until: int, max_term: int
) -> None:
    expected = TODAY + timedelta(days=days_until)
    warning = maturity_warning(term, TODAY, expected, max_term)
    assert (warning is None) == (estimated_maturity(term, TODAY) >= expected)
    if warning is not None:
        assert 1 <= warning.suggested_term_days <= max_term
        assert warning.days_short > 0
        if warning.fits_within_product:
            assert estimated_maturity(warning.suggested_term_days, TODAY) >= expected
            assert maturity_warning(warning.suggested_term_days, TODAY, expected, max_term) is None
