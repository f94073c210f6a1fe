"""Suppliers' one-time sign-in codes, the guard against guessing them, and supplier sessions.

The rules are `domain.supplier_login`'s; this module applies them under a row lock on the
credit code's guard, so concurrent requests for one credit code (a code asked twice, guesses
sent in parallel) are judged one after the other and none slips past the count.

Session tokens are random bearer tokens (prefix `zcs_`), kept as their SHA-256 like API keys.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime

import asyncpg

from domain.supplier_login import (
    CODE_DIGITS,
    CODE_LIFETIME,
    SESSION_LIFETIME,
    Attempt,
    Guard,
    IssuedCode,
    Verdict,
    judge,
    may_send,
)
from store.db import Connection

SUPPLIER_TOKEN_PREFIX = "zcs_"
_MAX_TOKEN_LENGTH = 256


def new_code() -> str:
    return f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"


def new_token() -> str:
    return SUPPLIER_TOKEN_PREFIX + secrets.token_urlsafe(32)


def token_hash(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


def is_supplier_token(token: str | None) -> bool:
    return token is not None and token.startswith(SUPPLIER_TOKEN_PREFIX)


@dataclass(frozen=True)
class SupplierSession:
    session_id: int
    credit_code: str
    expires_at: datetime


@dataclass(frozen=True)
class SignIn:
    attempt: Attempt
    session: SupplierSession | None = None


class SupplierLogins:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def issue_code(self, credit_code: str, digest: bytes, now: datetime) -> int | None:
        """Keep a new code for `credit_code` (its digest) and return its id, or None when no
        code is to be sent now (locked, or the last one is less than a minute old)."""
        async with self._pool.acquire() as connection, connection.transaction():
            guard = await _guard(connection, credit_code)
            newest = await _newest(connection, credit_code)
            if not may_send(now, guard, newest[1] if newest else None):
                return None
            code_id: int = await connection.fetchval(
                """
                INSERT INTO supplier_login_codes (credit_code, code_hash, created_at, expires_at)
                VALUES ($1, $2, $3, $4) RETURNING code_id
                """,
                credit_code,
                digest,
                now,
                now + CODE_LIFETIME,
            )
            return code_id

    async def forget_code(self, code_id: int) -> None:
        """The code could not be sent: it does not count as the last one sent."""
        await self._pool.execute("DELETE FROM supplier_login_codes WHERE code_id = $1", code_id)

    async def sign_in(self, credit_code: str, presented: bytes, token: str, now: datetime) -> SignIn:
        """Judge the code presented (its digest); when it fits, it is used up and a session
        opens for `token`, in the same transaction as the guard's new count."""
        async with self._pool.acquire() as connection, connection.transaction():
            guard = await _guard(connection, credit_code)
            newest = await _newest(connection, credit_code)
            attempt = judge(now, guard, newest[1] if newest else None, presented)
            if attempt.guard != guard:
                await connection.execute(
                    "UPDATE supplier_login_guards SET wrong_in_a_row = $2, locked_until = $3 WHERE credit_code = $1",
                    credit_code,
                    attempt.guard.wrong_in_a_row,
                    attempt.guard.locked_until,
                )
            if attempt.verdict is not Verdict.SIGNED_IN:
                return SignIn(attempt)
            assert newest is not None
            await connection.execute("UPDATE supplier_login_codes SET used_at = $2 WHERE code_id = $1", newest[0], now)
            expires_at = now + SESSION_LIFETIME
            session_id: int = await connection.fetchval(
                """
                INSERT INTO supplier_sessions (token_hash, credit_code, created_at, expires_at)
                VALUES ($1, $2, $3, $4) RETURNING session_id
                """,
                token_hash(token),
                credit_code,
                now,
                expires_at,
            )
            return SignIn(attempt, SupplierSession(session_id, credit_code, expires_at))

    async def session(self, token: str | None, now: datetime) -> SupplierSession | None:
        """The live session holding `token`, or None (unknown, expired or signed out)."""
        if not token or len(token) > _MAX_TOKEN_LENGTH:
            return None
        row = await self._pool.fetchrow(
            """
            SELECT session_id, credit_code, expires_at FROM supplier_sessions
             WHERE token_hash = $1 AND revoked_at IS NULL AND expires_at > $2
            """,
            token_hash(token),
            now,
        )
        return SupplierSession(row["session_id"], row["credit_code"], row["expires_at"]) if row else None

    async def sign_out(self, session_id: int, now: datetime) -> None:
        await self._pool.execute(
            "UPDATE supplier_sessions SET revoked_at = $2 WHERE session_id = $1 AND revoked_at IS NULL", session_id, now
        )


async def _guard(connection: Connection, credit_code: str) -> Guard:
    """The credit code's guard, locked for this transaction (created on first use)."""
    await connection.execute(
        "INSERT INTO supplier_login_guards (credit_code) VALUES ($1) ON CONFLICT (credit_code) DO NOTHING",
        credit_code,
    )
    row = await connection.fetchrow(
        "SELECT wrong_in_a_row, locked_until FROM supplier_login_guards WHERE credit_code = $1 FOR UPDATE",
        credit_code,
    )
    assert row is not None
    return Guard(wrong_in_a_row=row["wrong_in_a_row"], locked_until=row["locked_until"])


async def _newest(connection: Connection, credit_code: str) -> tuple[int, IssuedCode] | None:
    row = await connection.fetchrow(
        """
        SELECT code_id, code_hash, created_at, expires_at, used_at FROM supplier_login_codes
         WHERE credit_code = $1 ORDER BY code_id DESC LIMIT 1
        """,
        credit_code,
    )
    if row is None:
        return None
    code = IssuedCode(
        digest=bytes(row["code_hash"]),
        created_at=row["created_at"],
        expires_at=row["expires_at"],
        used=row["used_at"] is not None,
    )
    return row["code_id"], code
