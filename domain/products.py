"""Financing products (per bank) and the eligibility rule."""

from __future__ import annotations

from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field

from domain.money import Money, Rate, round_down


class Product(BaseModel):
    model_config = ConfigDict(frozen=True)

    product_code: str
    max_ratio: Rate
    min_rate: Rate
    max_rate: Rate
    max_term_days: int = Field(ge=1)
    grace_days: int = Field(ge=0)
    penalty_multiplier: Rate
    review_sla_days: int = Field(ge=1)


STANDARD_PRODUCT = Product(
    product_code="STD",
    max_ratio=Decimal("0.90"),
    min_rate=Decimal("0.0300"),
    max_rate=Decimal("0.0600"),
    max_term_days=365,
    grace_days=3,
    penalty_multiplier=Decimal("1.5"),
    review_sla_days=7,
)
"""The product every seeded bank offers (API.md, "Products")."""


def eligible_maximum(product: Product, contract_amount: Decimal, paid_amount: Decimal) -> Decimal:
    """max_ratio × unpaid balance, rounded down to the fen; never negative."""
    unpaid = contract_amount - paid_amount
    if unpaid <= 0:
        return Decimal("0.00")
    return round_down(product.max_ratio * unpaid)


def known_paid(procurement_paid: Decimal, recorded: Decimal) -> Decimal:
    """What the platform knows was paid on a contract (API.md v1.1, "Nothing lost, nothing
    forged"): the larger of the procurement system's `paid_amount` and the sum of the treasury
    payments the platform recorded on it. The procurement system may lag behind the treasury
    (or never hear of a payment), and a payment the platform saw is paid whatever it says."""
    return max(procurement_paid, recorded)


class ProductView(BaseModel):
    """A product as listed to a bank (same fields, money-typed where it matters)."""

    product_code: str
    max_ratio: Rate
    min_rate: Rate
    max_rate: Rate
    max_term_days: int
    grace_days: int
    penalty_multiplier: Rate
    review_sla_days: int
    example_limit: Money | None = None
