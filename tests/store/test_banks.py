from __future__ import annotations

import asyncpg

from domain.products import STANDARD_PRODUCT
from store.banks import BankRepository


async def test_products_and_banks(db_pool: asyncpg.Pool) -> None:
    banks = BankRepository(db_pool)
    assert await banks.get_product("ICBC", "STD") == STANDARD_PRODUCT
    assert await banks.get_product("ICBC", "GOLD") is None
    assert await banks.get_product("NOSUCH", "STD") is None
    assert await banks.list_products("WRCB") == [STANDARD_PRODUCT]
    icbc = await banks.get_bank("ICBC")
    assert icbc is not None and icbc.name == "中国工商银行" and icbc.kind == "state_owned"
    assert await banks.get_bank("NOSUCH") is None
    wrcb = await banks.get_bank("WRCB")
    assert wrcb is not None and wrcb.name == "无锡农村商业银行"


async def test_rates_come_back_as_written(db_pool: asyncpg.Pool) -> None:
    product = await BankRepository(db_pool).get_product("BOC", "STD")
    assert product is not None
    assert str(product.min_rate) == "0.0300" and str(product.max_ratio) == "0.90"
