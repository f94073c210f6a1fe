"""One validated type per kind of input at the edge (API.md v1.1 "Edges").

Every body a bank, ops, the treasury or the procurement system sends is built from these, so
no input reaches PostgreSQL or a workflow unchecked and none can produce a 500:

- `Text`: no control characters (U+0000–U+001F, U+007F), no lone surrogates, ≤ 500 characters;
- `Id`: a business id or number — 1–64 characters, and also no whitespace and no `/`;
- `InputMoney`: `Money` with at most 12 integer digits (largest 999999999999.99);
- `Instant`: an ISO 8601 instant with its offset, within the years 2000–2100.

The same rules serve path and query parameters (`is_id`), so an id that cannot be one is
answered 404 (a path) or 422 (a filter) before anything is looked up.
"""

from __future__ import annotations

import re
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, Field, PlainSerializer, ValidationInfo, WithJsonSchema

from domain.money import Money, _parse_money, money_str

TEXT_MAX = 500
ID_MAX = 64
MONEY_MAX = Decimal("999999999999.99")
EARLIEST_YEAR, LATEST_YEAR = 2000, 2100

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_SURROGATE = re.compile(r"[\ud800-\udfff]")
_NOT_IN_ID = re.compile(r"[\s/]")


def text_problem(value: str, limit: int = TEXT_MAX) -> str | None:
    if _CONTROL.search(value):
        return "text must not contain control characters"
    if _SURROGATE.search(value):
        return "text must be valid UTF-8 (no lone surrogates)"
    if len(value) > limit:
        return f"text is at most {limit} characters"
    return None


def id_problem(value: str) -> str | None:
    if not value:
        return "an id must not be empty"
    problem = text_problem(value, ID_MAX)
    if problem is not None:
        return problem.replace("text", "an id")
    if _NOT_IN_ID.search(value):
        return "an id has no whitespace and no '/'"
    return None


def is_id(value: str) -> bool:
    return id_problem(value) is None


def _text(value: str) -> str:
    problem = text_problem(value)
    if problem:
        raise ValueError(problem)
    return value


def _id(value: str) -> str:
    problem = id_problem(value)
    if problem:
        raise ValueError(problem)
    return value


def _input_money(value: Any) -> Decimal:
    amount = _parse_money(value)
    if abs(amount) > MONEY_MAX:
        raise ValueError(f"an amount has at most 12 integer digits (largest {MONEY_MAX})")
    return amount


def _instant(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError("an instant carries its offset (e.g. +08:00)")
    if not EARLIEST_YEAR <= value.year <= LATEST_YEAR:
        raise ValueError(f"an instant lies within the years {EARLIEST_YEAR}–{LATEST_YEAR}")
    return value


Text = Annotated[str, AfterValidator(_text), Field(max_length=TEXT_MAX)]
Id = Annotated[str, AfterValidator(_id), Field(min_length=1, max_length=ID_MAX, pattern=r"^[^\s/]+$")]
InputMoney = Annotated[
    Decimal,
    BeforeValidator(_input_money),
    PlainSerializer(money_str, return_type=str),
    WithJsonSchema(
        {"type": "string", "pattern": r"^-?[0-9]{1,12}\.[0-9]{2}$", "maxLength": 16, "examples": ["700000.00"]}
    ),
]
Instant = Annotated[datetime, AfterValidator(_instant)]

__all__ = ["ID_MAX", "TEXT_MAX", "Id", "InputMoney", "Instant", "Money", "Text", "id_problem", "is_id", "text_problem"]


def greater_than_zero(value: Money, info: ValidationInfo) -> Money:
    """A money field's `field_validator`: an amount of money that moves must be above zero (the
    message names the field, as every body's other refusals do)."""
    if value <= 0:
        raise ValueError(f"{info.field_name} must be greater than 0")
    return value
