"""Migrations apply once each, in order, even when several processes migrate at once."""

from __future__ import annotations

import asyncio
import re
import shutil
import typing
from datetime import timedelta
from pathlib import Path

import asyncpg
import pytest

import store.migrate
from domain.products import STANDARD_PRODUCT
from domain.stages import Stage
from domain.supplier_channel import OfferStatus, RequestStatus
from store.banks import BankRepository
from store.db import Connection, connect, create_pool
from store.migrate import MIGRATION_LOCK_KEY, MIGRATIONS_DIR, MigrationError, discover, migrate
from store.seed import WUXI_BANKS, WUXI_DISTRICTS
from tests.fixtures.database import MakeDatabase

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


async def _check_values(pool: asyncpg.Pool, table: str, column: str) -> set[str]:
    definition = await pool.fetchval(
        "SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = $1::regclass AND conname = $2",
        table,
        f"{table}_{column}_check",
    )
    assert definition is not None, f"no check on {table}.{column}"
    return set(re.findall(r"'([a-z_]+)'", definition))


async def test_the_request_and_offer_status_checks_know_every_status(db_pool: asyncpg.Pool) -> None:
    assert await _check_values(db_pool, "financing_requests", "status") == set(typing.get_args(RequestStatus))
    assert await _check_values(db_pool, "financing_offers", "status") == set(typing.get_args(OfferStatus))


async def test_requests_made_before_expiry_existed_expire_seven_days_after_they_were_made(
    empty_database_url: str, tmp_path: Path
) -> None:
    """012 gives the requests already there `expires_at` = created_at + 7 days (and allows `expired`)."""
    for migration in MIGRATIONS_DIR.glob("*.sql"):
        if int(migration.name[:3]) <= 11:  # up to 011, the supplier channel
            shutil.copy(migration, tmp_path / migration.name)
    await migrate(empty_database_url, directory=tmp_path)
    connection = await connect(empty_database_url)
    try:
        await connection.execute(
            """
            INSERT INTO financing_requests (request_id, supplier_credit_code, contract_no, requested_amount,
                collection_account_no, collection_account_name, status, contract, known_paid, credit_profile,
                created_at)
            VALUES ('FR-OLD', '91320200MA000001XX', 'WX-OLD-1', 800000.00, '6222024000000001', '某某', 'open',
                '{}', 0, '{}', '2026-11-02T09:00:00+08:00')
            """
        )
        assert "012_financing_request_expiry" in await migrate(empty_database_url)
        row = await connection.fetchrow("SELECT created_at, expires_at FROM financing_requests")
        assert row is not None and row["expires_at"] - row["created_at"] == timedelta(days=7)
        await connection.execute("UPDATE financing_requests SET status = 'expired'")
        with pytest.raises(asyncpg.NotNullViolationError):
            await connection.execute(
                """
                INSERT INTO financing_requests (request_id, supplier_credit_code, contract_no, requested_amount,
                    collection_account_no, collection_account_name, status, contract, known_paid, credit_profile)
                VALUES ('FR-NEW', '91320200MA000001XX', 'WX-NEW-1', 1.00, '1', '某某', 'open', '{}', 0, '{}')
                """
            )
    finally:
        await connection.close()


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


async def test_a_migration_lock_left_on_a_pooled_connection_goes_with_it(
    make_database: MakeDatabase, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The pool does not reset released connections (store/db.py), so migrating through one
    resets its own: a migration interrupted before its unlock leaves no lock behind."""

    async def interrupted(connection: Connection, **_: object) -> list[str]:
        await connection.execute("SELECT pg_advisory_lock($1)", MIGRATION_LOCK_KEY)
        raise RuntimeError("interrupted before the unlock")

    monkeypatch.setattr(store.migrate, "_migrate", interrupted)
    pool = await create_pool(await make_database(), min_size=1, max_size=1)
    try:
        with pytest.raises(RuntimeError, match="interrupted"):
            await migrate(pool)
        held = await pool.fetchval(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()"
        )
        assert held == 0
    finally:
        await pool.close()


async def test_a_released_connection_has_no_open_transaction(make_database: MakeDatabase) -> None:
    pool = await create_pool(await make_database(), min_size=1, max_size=1)
    try:
        async with pool.acquire() as connection:
            await connection.execute("BEGIN")
            await connection.execute("CREATE TABLE zz_left_open (x integer)")
        async with pool.acquire() as again:  # the same connection: the pool holds one
            assert not again.is_in_transaction()
            assert await again.fetchval("SELECT to_regclass('zz_left_open')") is None
    finally:
        await pool.close()
