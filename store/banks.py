"""Banks, their products and the districts: the reference data the API and workflow read."""

from __future__ import annotations

from typing import Any

import asyncpg
from pydantic import BaseModel

from domain.products import Product
from store.seed import BankKind, DistrictLevel

_PRODUCT_COLUMNS = (
    "product_code, max_ratio, min_rate, max_rate, max_term_days, grace_days, penalty_multiplier, review_sla_days"
)


class Bank(BaseModel):
    bank_code: str
    name: str
    name_en: str
    kind: BankKind


class District(BaseModel):
    name: str
    admin_code: str | None
    level: DistrictLevel


def _product(row: asyncpg.Record | dict[str, Any]) -> Product:
    return Product(**dict(row))


class BankRepository:
    """Read access to banks, products and districts (seeded by `store.seed`)."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def get_product(self, bank_code: str, product_code: str) -> Product | None:
        """The bank's product, or None when the bank does not offer it (or does not exist)."""
        row = await self._pool.fetchrow(
            f"SELECT {_PRODUCT_COLUMNS} FROM products WHERE bank_code = $1 AND product_code = $2",
            bank_code,
            product_code,
        )
        return _product(row) if row is not None else None

    async def list_products(self, bank_code: str) -> list[Product]:
        rows = await self._pool.fetch(
            f"SELECT {_PRODUCT_COLUMNS} FROM products WHERE bank_code = $1 ORDER BY product_code", bank_code
        )
        return [_product(row) for row in rows]

    async def every_product(self) -> list[tuple[Bank, Product]]:
        """Every seeded bank's products, banks in the seeded order (the supplier's channel shows
        what each would lend)."""
        rows = await self._pool.fetch(
            f"""
            SELECT b.bank_code, b.name, b.name_en, b.kind, {", ".join("p." + c for c in _PRODUCT_COLUMNS.split(", "))}
              FROM banks b JOIN products p ON p.bank_code = b.bank_code
             ORDER BY b.sort_order, b.bank_code, p.product_code
            """
        )
        return [
            (
                Bank(bank_code=r["bank_code"], name=r["name"], name_en=r["name_en"], kind=r["kind"]),
                _product({c: r[c] for c in _PRODUCT_COLUMNS.split(", ")}),
            )
            for r in rows
        ]

    async def get_bank(self, bank_code: str) -> Bank | None:
        row = await self._pool.fetchrow(
            "SELECT bank_code, name, name_en, kind FROM banks WHERE bank_code = $1", bank_code
        )
        return Bank(**dict(row)) if row is not None else None

    async def list_banks(self) -> list[Bank]:
        """Every bank, in the seeded order (large state-owned banks first)."""
        rows = await self._pool.fetch("SELECT bank_code, name, name_en, kind FROM banks ORDER BY sort_order, bank_code")
        return [Bank(**dict(row)) for row in rows]

    async def list_districts(self) -> list[District]:
        """The city first, then its districts and county-level cities, then the zone."""
        rows = await self._pool.fetch("SELECT name, admin_code, level FROM districts ORDER BY sort_order, name")
        return [District(**dict(row)) for row in rows]
