"""One active financing per contract, enforced by the database even under races."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest

from store.registry import RegistryRepository


async def test_claim_hold_and_release(db_pool: asyncpg.Pool) -> None:
    registry = RegistryRepository(db_pool)
    assert await registry.holder("WX-1") is None
    assert await registry.claim("WX-1", "app-a", "ICBC") is None
    assert await registry.claim("WX-1", "app-a", "ICBC") is None  # a retried claim is harmless
    assert await registry.claim("WX-1", "app-b", "BOC") == "app-a"
    holder = await registry.holder("WX-1")
    assert holder is not None and holder.application_id == "app-a" and holder.bank_code == "ICBC"

    assert not await registry.release("WX-1", "app-b")  # not its registration
    assert await registry.release("WX-1", "app-a", "settled")
    assert not await registry.release("WX-1", "app-a")  # idempotent
    assert await registry.holder("WX-1") is None
    assert await registry.claim("WX-1", "app-b", "BOC") is None  # free again


async def test_two_concurrent_claims_exactly_one_wins(db_pool: asyncpg.Pool) -> None:
    registry = RegistryRepository(db_pool)
    for n in range(20):
        contract = f"WX-RACE-{n}"
        outcomes = await asyncio.gather(
            registry.claim(contract, f"a-{n}", "ICBC"), registry.claim(contract, f"b-{n}", "CCB")
        )
        holder = await registry.holder(contract)
        assert holder is not None
        loser = f"b-{n}" if holder.application_id == f"a-{n}" else f"a-{n}"
        assert sorted(outcomes, key=str) == sorted([None, holder.application_id], key=str), loser


async def test_a_claim_waits_for_an_uncommitted_rival_and_loses_to_it(db_pool: asyncpg.Pool) -> None:
    registry = RegistryRepository(db_pool)
    async with db_pool.acquire() as rival:
        transaction = rival.transaction()
        await transaction.start()
        await rival.execute(
            "INSERT INTO financing_registry (contract_no, application_id, bank_code) VALUES ('WX-2', 'first', 'ICBC')"
        )
        ours = asyncio.create_task(registry.claim("WX-2", "second", "BOC"))
        await asyncio.sleep(0.2)
        assert not ours.done()  # blocked on the rival's uncommitted row in the unique index
        await transaction.commit()
        assert await ours == "first"


async def test_the_database_itself_refuses_a_second_active_registration(db_pool: asyncpg.Pool) -> None:
    insert = "INSERT INTO financing_registry (contract_no, application_id, bank_code) VALUES ($1, $2, 'ICBC')"
    await db_pool.execute(insert, "WX-3", "one")
    with pytest.raises(asyncpg.UniqueViolationError):
        await db_pool.execute(insert, "WX-3", "two")
