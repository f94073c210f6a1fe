"""Products and the eligible maximum: max_ratio × (amount − paid), rounded DOWN to the fen."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from domain.money import FEN
from domain.products import STANDARD_PRODUCT, Product, ProductView, eligible_maximum
from tests.unit.strategies import money

D = Decimal


def test_standard_product_is_the_seeded_one() -> None:
    p = STANDARD_PRODUCT
    assert p.product_code == "STD"
    assert p.max_ratio == D("0.90")
    assert (p.min_rate, p.max_rate) == (D("0.0300"), D("0.0600"))
    assert p.max_term_days == 365
    assert p.grace_days == 3
    assert p.penalty_multiplier == D("1.5")
    assert p.review_sla_days == 7


@pytest.mark.parametrize(
    ("amount", "paid", "expected"),
    [
        ("1000000.00", "100000.00", "810000.00"),  # 0.90 × 900,000.00
        ("1000000.00", "0.00", "900000.00"),
        ("333.33", "0.00", "299.99"),  # 299.997: down, not half-up (300.00)
        ("0.02", "0.00", "0.01"),  # 0.018
        ("0.01", "0.00", "0.00"),  # 0.009
        ("777777.77", "0.01", "699999.98"),  # 0.9 × 777,777.76 = 699,999.984
        ("700000.00", "700000.00", "0.00"),  # fully paid
        ("700000.00", "800000.00", "0.00"),  # overpaid: never negative
    ],
)
def test_eligible_maximum(amount: str, paid: str, expected: str) -> None:
    result = eligible_maximum(STANDARD_PRODUCT, D(amount), D(paid))
    assert result == D(expected)
    assert str(result) == expected  # two places, not "0" or "810000.0000"


def test_eligible_maximum_with_another_ratio() -> None:
    product = STANDARD_PRODUCT.model_copy(update={"max_ratio": D("0.7")})
    assert eligible_maximum(product, D("100.00"), D("0.01")) == D("69.99")  # 69.993


@settings(derandomize=True, database=None, max_examples=300, deadline=None)
@given(
    money(max_fen=10**13),
    money(max_fen=10**13),
    st.integers(min_value=1, max_value=100).map(lambda n: Decimal(n).scaleb(-2)),
)
def test_eligible_maximum_is_the_ratio_rounded_down(amount: Decimal, paid: Decimal, ratio: Decimal) -> None:
    product = STANDARD_PRODUCT.model_copy(update={"max_ratio": ratio})
    result = eligible_maximum(product, amount, paid)
    assert result == result.quantize(FEN)
    assert result >= 0
    if paid >= amount:
        assert result == 0
    else:
        exact = ratio * (amount - paid)
        assert result <= exact < result + FEN


def test_product_refuses_float_ratio_and_nonsense_terms() -> None:
    with pytest.raises(ValidationError):
        Product(**{**STANDARD_PRODUCT.model_dump(), "max_ratio": 0.9})
    with pytest.raises(ValidationError):
        Product(**{**STANDARD_PRODUCT.model_dump(), "max_term_days": 0})
    with pytest.raises(ValidationError):
        Product(**{**STANDARD_PRODUCT.model_dump(), "grace_days": -1})


def test_product_view_serialises_rates_as_strings() -> None:
    view = ProductView(**STANDARD_PRODUCT.model_dump(), example_limit=D("810000.00"))
    dumped = view.model_dump(mode="json")
    assert dumped["max_ratio"] == "0.90"
    assert dumped["min_rate"] == "0.0300"
    assert dumped["penalty_multiplier"] == "1.5"
    assert dumped["example_limit"] == "810000.00"
