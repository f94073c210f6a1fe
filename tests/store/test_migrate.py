"""Migrations apply once each, in order, even when several processes migrate at once."""

from __future__ import annotations

import asyncio
import re

import asyncpg
import pytest

from domain.products import STANDARD_PRODUCT
from domain.stages import Stage
from store.banks import BankRepository
from store.db import connect
from store.migrate import MigrationError, discover, migrate
from store.seed import WUXI_BANKS, WUXI_DISTRICTS

TABLES = {
    "schema_migrations",
    "banks",
    "products",
    "districts",
    "api_principals",
    "applications",
    "events",
    "financing_registry",
    "ledger_postings",
    "ledger_entries",
    "treasury_payments",
    "account_change_events",
    "idempotency_keys",
    "audit_log",
    "audit_chain_head",
    "supplier_login_codes",
    "supplier_login_guards",
    "supplier_sessions",
    "financing_requests",
    "financing_offers",
}


def test_migration_files_are_numbered_in_sequence() -> None:
    migrations = discover()
    assert [m.version for m in migrations] == list(range(1, len(migrations) + 1))


async def test_migrating_twice_applies_nothing_the_second_time(empty_database_url: str) -> None:
    first = await migrate(empty_database_url)
    assert first == [m.label for m in discover()]
    assert await migrate(empty_database_url) == []
    connection = await connect(empty_database_url)
    try:
        tables = {
            row["tablename"]
            for row in await connection.fetch("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
        }
        assert tables == TABLES
        assert await connection.fetchval("SELECT count(*) FROM schema_migrations") == len(first)
        assert await connection.fetchval("SELECT count(*) FROM banks") == 23
    finally:
        await connection.close()


async def test_concurrent_migrations_apply_each_file_once(empty_database_url: str) -> None:
    results = await asyncio.gather(*(migrate(empty_database_url) for _ in range(4)))
    applied = [label for result in results for label in result]
    assert sorted(applied) == [m.label for m in discover()]  # all of them, each by one process only
    connection = await connect(empty_database_url)
    try:
        assert await connection.fetchval("SELECT count(*) FROM banks") == 23
        assert await connection.fetchval("SELECT count(*) FROM products") == 23
    finally:
        await connection.close()


async def test_a_changed_migration_is_refused(fresh_db_pool: asyncpg.Pool) -> None:
    await fresh_db_pool.execute("UPDATE schema_migrations SET checksum = 'edited' WHERE version = 2")
    with pytest.raises(MigrationError, match="002_applications"):
        await migrate(fresh_db_pool)


async def test_the_stage_check_knows_every_stage(db_pool: asyncpg.Pool) -> None:
    definition = await db_pool.fetchval(
        """
        SELECT pg_get_constraintdef(oid) FROM pg_constraint
         WHERE conrelid = 'applications'::regclass AND pg_get_constraintdef(oid) LIKE '%stage%'
        """
    )
    assert set(re.findall(r"'([a-z_]+)'", definition)) == {stage.value for stage in Stage}


async def test_seed_has_wuxis_23_banks_each_with_the_standard_product(db_pool: asyncpg.Pool) -> None:
    banks = BankRepository(db_pool)
    listed = await banks.list_banks()
    codes = [bank.bank_code for bank in listed]
    assert len(codes) == len(set(codes)) == 23
    assert all(re.fullmatch(r"[A-Z][A-Z0-9]+", code) for code in codes)
    assert len({bank.name for bank in listed}) == 23
    assert codes[:6] == ["ICBC", "ABC", "BOC", "CCB", "BOCOM", "PSBC"]
    assert {"WRCB", "BOJS", "NJCB"} <= set(codes)  # the region's own banks are there
    for code in codes:
        assert await banks.get_product(code, "STD") == STANDARD_PRODUCT


async def test_seed_has_the_city_and_its_eight_districts(db_pool: asyncpg.Pool) -> None:
    districts = await BankRepository(db_pool).list_districts()
    assert [d.name for d in districts] == [d.name for d in WUXI_DISTRICTS]
    assert districts[0].name == "无锡市" and districts[0].level == "city"
    assert len(districts) == 9


async def test_seeding_again_keeps_a_tuned_product(fresh_db_pool: asyncpg.Pool) -> None:
    await fresh_db_pool.execute("UPDATE products SET review_sla_days = 5 WHERE bank_code = 'ICBC'")
    await migrate(fresh_db_pool)
    product = await BankRepository(fresh_db_pool).get_product("ICBC", "STD")
    assert product is not None and product.review_sla_days == 5
    assert await fresh_db_pool.fetchval("SELECT count(*) FROM banks") == len(WUXI_BANKS)
