"""The audit trail: append-only, hash-chained, no forks, tampering found."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import asyncpg
import pytest

from store.audit import GENESIS_HASH, AuditTrail


async def test_appends_chain_and_verify(fresh_db_pool: asyncpg.Pool) -> None:
    audit = AuditTrail(fresh_db_pool)
    first = await audit.append("bank:ICBC", "application.submitted", "app-1", {"amount": Decimal("700000.00")})
    second = await audit.append("ops:ops", "account_lock.offline_answer", "app-1", {"decision": "confirmed"})
    await audit.append("system", "stats.viewed")
    assert first.seq == 1 and first.prev_hash == GENESIS_HASH
    assert second.seq == 2 and second.prev_hash == first.hash
    assert first.details == {"amount": "700000.00"}
    assert [e.action for e in await audit.for_application("app-1")] == [
        "application.submitted",
        "account_lock.offline_answer",
    ]
    check = await audit.verify()
    assert check and check.rows_checked == 3


async def test_concurrent_appends_do_not_fork_the_chain(db_pool: asyncpg.Pool) -> None:
    audit = AuditTrail(db_pool)
    entries = await asyncio.gather(*(audit.append("system", "tick", None, {"n": n}) for n in range(25)))
    first = min(e.seq for e in entries)
    assert sorted(e.seq for e in entries) == list(range(first, first + 25))
    assert len({e.prev_hash for e in entries}) == 25
    assert await audit.verify()


async def test_the_log_refuses_changes(db_pool: asyncpg.Pool) -> None:
    audit = AuditTrail(db_pool)
    await audit.append("system", "x")
    for statement in ("UPDATE audit_log SET actor = 'me'", "DELETE FROM audit_log", "TRUNCATE audit_log"):
        with pytest.raises(asyncpg.InsufficientPrivilegeError, match="append-only"):
            await db_pool.execute(statement)
    assert await audit.verify()


async def _tamper(pool: asyncpg.Pool, statement: str) -> None:
    """What a superuser could still do: switch the trigger off, change the log, switch it on."""
    async with pool.acquire() as connection, connection.transaction():
        await connection.execute("ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only")
        await connection.execute(statement)
        await connection.execute("ALTER TABLE audit_log ENABLE TRIGGER audit_log_append_only")


async def test_a_changed_row_is_found(fresh_db_pool: asyncpg.Pool) -> None:
    audit = AuditTrail(fresh_db_pool)
    for n in range(4):
        await audit.append("bank:ICBC", "repayment.reported", "app-1", {"amount": f"{n}00.00"})
    await _tamper(fresh_db_pool, """UPDATE audit_log SET details_json = '{"amount":"999.00"}' WHERE seq = 2""")
    check = await audit.verify()
    assert not check and check.first_broken_seq == 2 and check.rows_checked == 1


async def test_a_removed_row_is_found(fresh_db_pool: asyncpg.Pool) -> None:
    audit = AuditTrail(fresh_db_pool)
    for n in range(4):
        await audit.append("system", "tick", None, {"n": n})
    await _tamper(fresh_db_pool, "DELETE FROM audit_log WHERE seq = 3")
    check = await audit.verify()
    assert not check and check.first_broken_seq == 3

    await _tamper(fresh_db_pool, "DELETE FROM audit_log WHERE seq = 4")  # now the end is cut off
    check = await audit.verify()
    assert not check and check.first_broken_seq == 3 and check.problem is not None
