"""`zcd keys` against a real database: an issued key authenticates, is printed once and only
on stdout, a revoked one no longer does, the listing never shows a key or its hash, and every
issue and revocation is in the audit trail as "cli".

The CLI runs its own event loop (asyncio.run), so each invocation runs in a thread."""

from __future__ import annotations

import asyncio
import hashlib
import json

import asyncpg
from typer.testing import CliRunner, Result

from cli.main import app
from store.audit import AuditTrail
from store.principals import authenticate


async def zcd(*args: str, env: dict[str, str] | None = None) -> Result:
    runner = CliRunner()
    return await asyncio.to_thread(runner.invoke, app, list(args), env=env)


async def issue(database_url: str, *args: str) -> str:
    result = await zcd("keys", "issue", *args, "--database-url", database_url)
    assert result.exit_code == 0, result.output
    key = result.stdout.strip()
    assert key.startswith("zcd_") and "\n" not in key  # the key alone on stdout
    assert "cannot be shown again" in result.stderr
    return key


async def cli_actions(pool: asyncpg.Pool) -> list[tuple[str, dict[str, object]]]:
    rows = await pool.fetch("SELECT action, details_json FROM audit_log WHERE actor = 'cli' ORDER BY seq")
    trail = AuditTrail(pool)
    assert await trail.verify()
    return [(row["action"], json.loads(row["details_json"])) for row in rows]


async def test_issue_authenticate_list_and_revoke(database_url: str, db_pool: asyncpg.Pool) -> None:
    bank_key = await issue(database_url, "--bank", "icbc")  # codes are case-insensitive
    ops_key = await issue(database_url, "--ops", "--name", "alice")

    bank = await authenticate(db_pool, bank_key)
    ops = await authenticate(db_pool, ops_key)
    assert bank is not None and bank.name == "bank:ICBC"
    assert ops is not None and ops.name == "ops:alice"

    listing = await zcd("keys", "list", env={"DATABASE_URL": database_url})  # DATABASE_URL like `zcd migrate`
    assert listing.exit_code == 0, listing.output
    assert "ICBC" in listing.stdout and "alice" in listing.stdout
    for secret in (bank_key, ops_key):
        assert secret not in listing.output and hashlib.sha256(secret.encode()).hexdigest() not in listing.output

    revoked = await zcd("keys", "revoke", str(ops.principal_id), "--database-url", database_url)
    assert revoked.exit_code == 0, revoked.output
    assert f"revoked principal {ops.principal_id}" in revoked.stdout
    assert await authenticate(db_pool, ops_key) is None
    assert await authenticate(db_pool, bank_key) is not None

    again = await zcd("keys", "revoke", str(ops.principal_id), "--database-url", database_url)
    assert again.exit_code == 1 and "already revoked" in again.output

    by_key = await zcd("keys", "revoke", bank_key, "--database-url", database_url)  # the whole key works too
    assert by_key.exit_code == 0, by_key.output
    assert bank_key not in by_key.output  # a key is never printed back
    assert await authenticate(db_pool, bank_key) is None

    actions = await cli_actions(db_pool)
    assert [action for action, _ in actions] == ["key.issued", "key.issued", "key.revoked", "key.revoked"]
    assert actions[0][1]["bank_code"] == "ICBC" and actions[1][1]["principal_id"] == ops.principal_id
    assert {details["principal_id"] for _, details in actions[2:]} == {ops.principal_id, bank.principal_id}
    assert all(bank_key not in str(details) and ops_key not in str(details) for _, details in actions)


async def test_unknown_bank_and_bad_arguments_are_refused(database_url: str, db_pool: asyncpg.Pool) -> None:
    before = await db_pool.fetchval("SELECT count(*) FROM audit_log WHERE actor = 'cli'")
    unknown = await zcd("keys", "issue", "--bank", "NOPE", "--database-url", database_url)
    assert unknown.exit_code == 1 and "unknown bank code 'NOPE'" in unknown.output
    assert "zcd_" not in unknown.stdout

    both = await zcd("keys", "issue", "--bank", "ICBC", "--ops", "--database-url", database_url)
    neither = await zcd("keys", "issue", "--database-url", database_url)
    assert both.exit_code == neither.exit_code == 2 and "exactly one" in both.output

    no_database = await zcd("keys", "list", env={"DATABASE_URL": ""})
    assert no_database.exit_code == 1 and "DATABASE_URL is not set" in no_database.output
    assert await db_pool.fetchval("SELECT count(*) FROM audit_log WHERE actor = 'cli'") == before

    banks = await zcd("keys", "banks", "--database-url", database_url)
    assert banks.exit_code == 0 and "ICBC" in banks.stdout
