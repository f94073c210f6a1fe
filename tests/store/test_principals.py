from __future__ import annotations

import hashlib

import asyncpg

from store.principals import authenticate, ensure_credentials, generate_credentials, revoke_key
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
