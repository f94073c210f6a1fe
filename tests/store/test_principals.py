from __future__ import annotations

import hashlib

import asyncpg
import pytest

from store.principals import (
    PrincipalRecord,
    UnknownBank,
    active_principal,
    authenticate,
    ensure_credentials,
    generate_credentials,
    issue_key,
    list_principals,
    revoke_key,
    revoke_principal,
)
from store.seed import WUXI_BANKS


async def test_keys_authenticate_their_principal(db_pool: asyncpg.Pool) -> None:
    credentials = generate_credentials(b.bank_code for b in WUXI_BANKS)
    assert set(credentials["banks"]) == {b.bank_code for b in WUXI_BANKS}
    await ensure_credentials(db_pool, credentials)
    await ensure_credentials(db_pool, credentials)  # idempotent
    hashes = [hashlib.sha256(key.encode()).digest() for key in [*credentials["banks"].values(), credentials["ops"]]]
    assert await db_pool.fetchval("SELECT count(*) FROM api_principals WHERE key_hash = ANY($1)", hashes) == 24

    bank = await authenticate(db_pool, credentials["banks"]["CMB"])
    assert bank is not None and bank.kind == "bank" and bank.bank_code == "CMB" and bank.name == "bank:CMB"
    ops = await authenticate(db_pool, credentials["ops"])
    assert ops is not None and ops.is_ops and ops.bank_code is None

    assert await authenticate(db_pool, "zcd_not-a-key") is None
    assert await authenticate(db_pool, "") is None
    assert await authenticate(db_pool, None) is None
    assert await authenticate(db_pool, "x" * 10_000) is None


async def test_only_hashes_are_stored(db_pool: asyncpg.Pool) -> None:
    credentials = generate_credentials(["ICBC"])
    await ensure_credentials(db_pool, credentials)
    key = credentials["banks"]["ICBC"]
    row = await db_pool.fetchrow(
        "SELECT * FROM api_principals WHERE key_hash = $1", hashlib.sha256(key.encode()).digest()
    )
    assert row is not None and row["bank_code"] == "ICBC"
    assert all(key not in str(value) for value in row.values())


async def test_several_ops_keys_and_revocation(db_pool: asyncpg.Pool) -> None:
    first, second = generate_credentials([])["ops"], generate_credentials([])["ops"]
    await ensure_credentials(db_pool, {"ops": [first, second]})
    assert await authenticate(db_pool, second) is not None
    assert await revoke_key(db_pool, first)
    assert not await revoke_key(db_pool, first)
    assert await authenticate(db_pool, first) is None
    assert await authenticate(db_pool, second) is not None


async def test_issue_list_and_revoke_by_principal(db_pool: asyncpg.Pool) -> None:
    bank, bank_key = await issue_key(db_pool, "bank", bank_code="ICBC")
    ops, ops_key = await issue_key(db_pool, "ops", label="night-shift")
    assert bank.bank_code == "ICBC" and bank.label == "ICBC key" and ops.name == "ops:night-shift"
    assert await authenticate(db_pool, bank_key) == bank
    assert await authenticate(db_pool, ops_key) == ops

    listed = {record.principal_id: record for record in await list_principals(db_pool)}
    assert listed[bank.principal_id].bank_code == "ICBC" and listed[bank.principal_id].revoked_at is None
    assert "key_hash" not in PrincipalRecord.model_fields

    assert await revoke_principal(db_pool, ops.principal_id) == ops
    assert await revoke_principal(db_pool, ops.principal_id) is None  # already revoked
    assert await revoke_principal(db_pool, 10**12) is None  # no such principal
    assert await authenticate(db_pool, ops_key) is None
    assert await active_principal(db_pool, ops.principal_id) is None  # codec sessions end with it
    assert await authenticate(db_pool, bank_key) == bank
    revoked = {record.principal_id: record for record in await list_principals(db_pool)}[ops.principal_id]
    assert revoked.revoked_at is not None


async def test_issue_refuses_an_unknown_bank(db_pool: asyncpg.Pool) -> None:
    before = await db_pool.fetchval("SELECT count(*) FROM api_principals WHERE bank_code = 'ICBC'")
    with pytest.raises(UnknownBank):
        await issue_key(db_pool, "bank", bank_code="NOPE")
    with pytest.raises(ValueError):
        await issue_key(db_pool, "ops", bank_code="ICBC")
    assert await db_pool.fetchval("SELECT count(*) FROM api_principals WHERE bank_code = 'ICBC'") == before
