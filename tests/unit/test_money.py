"""Money and Rate: exact decimals, strict parsing, two-place serialisation."""

from __future__ import annotations

import json
import re
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, TypeAdapter, ValidationError

from domain.money import FEN, ZERO, Money, Rate, money_str, round_down, round_half_up, to_decimal
from tests.unit.strategies import money

MONEY = TypeAdapter(Money)
RATE = TypeAdapter(Rate)


class Priced(BaseModel):
    amount: Money


class Rated(BaseModel):
    rate: Rate


# ---- refused -----------------------------------------------------------------------------

REFUSED: list[Any] = [
    # floats: binary fractions are not money, whatever their value
    0.1,
    1.5,
    700000.0,
    0.0,
    # JSON numbers: money is a string ("700000.00"), as API.md says; bools are ints in Python
    5,
    0,
    700000,
    True,
    False,
    # not finite
    float("nan"),
    float("inf"),
    float("-inf"),
    Decimal("NaN"),
    Decimal("sNaN"),
    Decimal("Infinity"),
    Decimal("-Infinity"),
    "NaN",
    "nan",
    "sNaN",
    "Infinity",
    "-Infinity",
    "inf",
    # more than two places
    "1.005",
    "0.001",
    "700000.001",
    Decimal("1.005"),
    Decimal("0.001"),
    # garbage
    "",
    " ",
    "abc",
    "1,000.00",
    "¥100.00",
    "100.00元",
    "12.34.56",
    "1 000.00",
    "--1",
    "0x10",
    "1_000.00",  # Python's Decimal accepts digit separators; an amount must not
    "１２３.００",  # full-width digits: Decimal accepts them, the contract's pattern does not
    "1e3",  # exponent notation is not a decimal string with two places
    "7E+5",
    None,
    [],
    {},
    b"1.00",
    # too large to hold with two places at Decimal's precision: a 422, not a crash
    "1e30",
    "1" + "0" * 40,
    10**40,
    Decimal("1E+40"),
]


@pytest.mark.parametrize("value", REFUSED, ids=repr)
def test_money_refuses(value: Any) -> None:
    with pytest.raises(ValidationError):
        MONEY.validate_python(value)
    with pytest.raises(ValidationError):
        Priced(amount=value)


@pytest.mark.parametrize("value", [0.1, 1.5, 700000, True, float("nan"), "1.005", "abc", "NaN"], ids=repr)
def test_money_refuses_in_json(value: Any) -> None:
    with pytest.raises(ValidationError):
        Priced.model_validate_json(json.dumps({"amount": value}))


def test_money_refuses_a_json_number_with_a_fraction() -> None:
    # JSON numbers with a fraction arrive as floats: refused, even when exact in binary.
    with pytest.raises(ValidationError):
        Priced.model_validate_json('{"amount": 0.5}')


def test_float_refusal_says_why() -> None:
    with pytest.raises(ValidationError, match="float"):
        Priced(amount=0.1)
    with pytest.raises(ValidationError, match="two decimal places"):
        Priced(amount="1.005")


# ---- accepted ----------------------------------------------------------------------------

ACCEPTED: list[tuple[Any, str]] = [
    ("700000.00", "700000.00"),
    ("0.01", "0.01"),
    ("0.00", "0.00"),
    ("0", "0.00"),
    (Decimal("1.1"), "1.10"),
    (Decimal("700000"), "700000.00"),
    ("1.1", "1.10"),
    ("1.000", "1.00"),  # trailing zeros are not places of value
    (Decimal("2.500"), "2.50"),
    (" 12.30 ", "12.30"),
    ("-5.00", "-5.00"),  # models that refuse negatives say so themselves
    ("99999999999999.99", "99999999999999.99"),
]


@pytest.mark.parametrize(("value", "expected"), ACCEPTED, ids=repr)
def test_money_accepts_and_serialises_with_two_places(value: Any, expected: str) -> None:
    amount = MONEY.validate_python(value)
    assert isinstance(amount, Decimal)
    assert amount == Decimal(expected)
    assert amount.as_tuple().exponent == -2
    assert MONEY.dump_python(amount, mode="json") == expected
    model = Priced(amount=value)
    assert model.model_dump(mode="json") == {"amount": expected}
    assert json.loads(model.model_dump_json()) == {"amount": expected}


def test_money_from_json_string() -> None:
    assert Priced.model_validate_json('{"amount": "700000.00"}').amount == Decimal("700000.00")
    with pytest.raises(ValidationError, match="decimal string"):
        Priced.model_validate_json('{"amount": 5}')  # a JSON number, even a whole one


def test_negative_zero_serialises_as_zero() -> None:
    assert Priced(amount="-0.00").model_dump(mode="json") == {"amount": "0.00"}
    assert money_str(Decimal("-0")) == "0.00"


def test_money_json_schema_is_a_two_place_string() -> None:
    for mode in ("validation", "serialization"):
        schema = Priced.model_json_schema(mode=mode)["properties"]["amount"]
        assert schema["type"] == "string"
        pattern = re.compile(schema["pattern"])
        assert pattern.fullmatch("700000.00")
        assert pattern.fullmatch("1.10")
        assert not pattern.fullmatch("1.1")
        assert not pattern.fullmatch("1.005")
        assert not pattern.fullmatch("700000")
        assert not pattern.fullmatch("1e3")
        assert not pattern.fullmatch("１２３.００")  # the pattern is ASCII digits, as in ECMA-262


@settings(derandomize=True, database=None, max_examples=300, deadline=None)
@given(money(min_fen=-(10**16), max_fen=10**16))
def test_money_round_trips_and_matches_its_own_schema(amount: Decimal) -> None:
    pattern = re.compile(Priced.model_json_schema(mode="serialization")["properties"]["amount"]["pattern"])
    dumped = Priced(amount=amount).model_dump(mode="json")["amount"]
    assert pattern.fullmatch(dumped)
    assert Decimal(dumped) == amount
    assert Priced.model_validate_json(json.dumps({"amount": dumped})).amount == amount


@settings(derandomize=True, database=None, max_examples=200, deadline=None)
@given(st.integers(min_value=0, max_value=10**12), st.integers(min_value=3, max_value=8))
def test_more_than_two_significant_places_is_refused(units: int, places: int) -> None:
    value = Decimal(units).scaleb(-places)
    if value == value.quantize(FEN):
        return  # e.g. 1.000: no third place of value
    with pytest.raises(ValidationError):
        MONEY.validate_python(value)
    with pytest.raises(ValidationError):
        MONEY.validate_python(str(value))


def test_to_decimal_refuses_floats_directly() -> None:
    with pytest.raises(ValueError, match="float"):
        to_decimal(0.5)
    with pytest.raises(ValueError):
        to_decimal(True)
    assert to_decimal("0.0385") == Decimal("0.0385")


# ---- rounding ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "half_up", "down"),
    [
        ("0.005", "0.01", "0.00"),
        ("0.015", "0.02", "0.01"),
        ("0.025", "0.03", "0.02"),  # half-even would give 0.02
        ("74.86111", "74.86", "74.86"),
        ("2245.8333", "2245.83", "2245.83"),
        ("299.997", "300.00", "299.99"),
        ("1.999999", "2.00", "1.99"),
        ("3.00", "3.00", "3.00"),
    ],
)
def test_rounding(raw: str, half_up: str, down: str) -> None:
    assert round_half_up(Decimal(raw)) == Decimal(half_up)
    assert str(round_half_up(Decimal(raw))) == half_up
    assert round_down(Decimal(raw)) == Decimal(down)
    assert str(round_down(Decimal(raw))) == down


def test_zero_is_two_places() -> None:
    assert str(ZERO) == "0.00"


# ---- rates ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("0.0385", "0.0385"),
        ("0.90", "0.90"),
        ("1.5", "1.5"),
        (Decimal("0.0300"), "0.0300"),
        ("2", "2"),
        (Decimal("1E+1"), "10"),
        (Decimal("1E-7"), "0.0000001"),
    ],
    ids=repr,
)
def test_rate_serialises_as_a_plain_decimal_string(value: Any, expected: str) -> None:
    model = Rated(rate=value)
    dumped = model.model_dump(mode="json")["rate"]
    assert dumped == expected
    pattern = re.compile(Rated.model_json_schema(mode="serialization")["properties"]["rate"]["pattern"])
    assert pattern.fullmatch(dumped)
    assert Rated.model_validate_json(model.model_dump_json()).rate == Decimal(expected)


@pytest.mark.parametrize(
    "value", [0.0385, True, float("nan"), "Infinity", "abc", "", "3.85%", "-0.0385", "1e-2"], ids=repr
)
def test_rate_refuses(value: Any) -> None:
    with pytest.raises(ValidationError):
        RATE.validate_python(value)
