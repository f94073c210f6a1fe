"""Money: `Decimal` exact to the fen, never a float.

`Money` is the pydantic type used in every model that carries an amount. It accepts
decimal strings and Decimals; it refuses JSON numbers (ints and floats: API.md's money is a
string, and a float is a binary fraction), NaN/Infinity, and more than two decimal places.
It serialises as a string with exactly two places ("700000.00"), which is what API.md
promises and what keeps the Temporal payloads exact.
"""

from __future__ import annotations

import re
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Annotated, Any

from pydantic import BeforeValidator, PlainSerializer, WithJsonSchema

FEN = Decimal("0.01")
ZERO = Decimal("0.00")

_DECIMAL_TEXT = re.compile(r"[+-]?[0-9]+(\.[0-9]+)?")
"""A decimal string: ASCII digits, an optional sign and fraction; no exponent, no separators."""


def to_decimal(value: Any) -> Decimal:
    """Parse a money-like value strictly: str or Decimal; never a number (int, float, bool).

    A bank that sends 700000 where the contract says "700000.00" is refused, not guessed at:
    the same client would send 0.1 + 0.2 tomorrow."""
    if isinstance(value, (bool, int, float)):
        kind = type(value).__name__
        raise ValueError(f'money must be a decimal string such as "700000.00", not a {kind} ({value!r})')
    if isinstance(value, str):
        text = value.strip()
        # Decimal() alone also reads "1_000", "1e3", "NaN" and non-ASCII digits ("１２３").
        if not _DECIMAL_TEXT.fullmatch(text):
            raise ValueError(f"not a decimal amount: {value!r}")
        try:
            value = Decimal(text)
        except InvalidOperation as exc:
            raise ValueError(f"not a decimal amount: {value!r}") from exc
    elif not isinstance(value, Decimal):
        raise ValueError(f"money must be a decimal string, got {type(value).__name__}")
    if not value.is_finite():
        raise ValueError("money must be a finite amount")
    return value


def _parse_money(value: Any) -> Decimal:
    amount = to_decimal(value)
    try:
        in_fen = amount.quantize(FEN)
    except InvalidOperation as exc:  # more digits than Decimal's precision holds
        raise ValueError("amount too large") from exc
    if in_fen != amount:
        raise ValueError("money has at most two decimal places (fen)")
    return ZERO if in_fen.is_zero() else in_fen  # no "-0.00"


def money_str(amount: Decimal) -> str:
    in_fen = amount.quantize(FEN)
    return str(ZERO if in_fen.is_zero() else in_fen)


Money = Annotated[
    Decimal,
    BeforeValidator(_parse_money),
    PlainSerializer(money_str, return_type=str),
    WithJsonSchema({"type": "string", "pattern": r"^-?[0-9]+\.[0-9]{2}$", "examples": ["700000.00"]}),
]
"""An amount in yuan, exactly two places; may be zero or negative only where a model allows."""


def _parse_rate(value: Any) -> Decimal:
    rate = to_decimal(value)
    if rate < 0:
        raise ValueError("a rate is never negative")
    return rate.copy_abs() if rate.is_zero() else rate  # no "-0"


def rate_str(rate: Decimal) -> str:
    """Plain notation, as the schema's pattern says: str() would give "1E+1" or "1E-7"."""
    return format(rate, "f")


Rate = Annotated[
    Decimal,
    BeforeValidator(_parse_rate),
    PlainSerializer(rate_str, return_type=str),
    WithJsonSchema({"type": "string", "pattern": r"^[0-9]+(\.[0-9]+)?$", "examples": ["0.0385"]}),
]
"""A rate or ratio as a decimal string ("0.0385" = 3.85 % a year)."""


def round_half_up(amount: Decimal) -> Decimal:
    return amount.quantize(FEN, rounding=ROUND_HALF_UP)


def round_down(amount: Decimal) -> Decimal:
    return amount.quantize(FEN, rounding=ROUND_DOWN)
