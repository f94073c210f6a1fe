"""The audit trail: who did what to which application, append-only and hash-chained.

Each row's hash is sha256(previous hash + canonical JSON of the row), starting from 64
zeros, so altering, deleting or reordering any row breaks the chain from there on and
`verify` points at it. Appends serialise on the chain head row (SELECT ... FOR UPDATE):
concurrent writers queue rather than both chaining onto the same predecessor. A trigger
refuses UPDATE, DELETE and TRUNCATE on the log itself.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import asyncpg
from pydantic import BaseModel

from store.db import canonical_json, json_loads

GENESIS_HASH = "0" * 64


class AuditEntry(BaseModel):
    seq: int
    at: datetime
    actor: str
    action: str
    application_id: str | None
    details: dict[str, Any]
    prev_hash: str
    hash: str


@dataclass(frozen=True)
class ChainCheck:
    """The result of `AuditTrail.verify`; true when the chain is intact."""

    intact: bool
    rows_checked: int
    first_broken_seq: int | None = None
    problem: str | None = None

    def __bool__(self) -> bool:
        return self.intact


def chain_hash(
    prev_hash: str, seq: int, at: datetime, actor: str, action: str, application_id: str | None, details_json: str
) -> str:
    row = {
        "seq": seq,
        "at": at.astimezone(UTC).isoformat(),
        "actor": actor,
        "action": action,
        "application_id": application_id,
        "details": json_loads(details_json),
    }
    return hashlib.sha256((prev_hash + canonical_json(row)).encode()).hexdigest()


class AuditTrail:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def append(
        self,
        actor: str,
        action: str,
        application_id: str | None = None,
        details: dict[str, Any] | None = None,
    ) -> AuditEntry:
        """Add a record. `actor` names the principal ("bank:ICBC", "ops:…", "treasury",
        "system"); `details` is any JSON-able dict (Decimals and dates become strings)."""
        details_json = canonical_json(details or {})
        async with self._pool.acquire() as connection, connection.transaction():
            head = await connection.fetchrow(
                "SELECT seq, hash, clock_timestamp() AS now FROM audit_chain_head WHERE singleton FOR UPDATE"
            )
            assert head is not None  # created by the migration
            seq = head["seq"] + 1
            at: datetime = head["now"]
            digest = chain_hash(head["hash"], seq, at, actor, action, application_id, details_json)
            # the row and the chain head in one statement: one round trip fewer while the head is locked
            await connection.execute(
                """
                WITH logged AS (
                    INSERT INTO audit_log (seq, at, actor, action, application_id, details_json, prev_hash, hash)
                    VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
                    RETURNING seq, hash
                )
                UPDATE audit_chain_head SET seq = logged.seq, hash = logged.hash FROM logged WHERE singleton
                """,
                seq,
                at,
                actor,
                action,
                application_id,
                details_json,
                head["hash"],
                digest,
            )
        return AuditEntry(
            seq=seq,
            at=at,
            actor=actor,
            action=action,
            application_id=application_id,
            details=json_loads(details_json),
            prev_hash=head["hash"],
            hash=digest,
        )

    async def submitter(self, application_id: str) -> str | None:
        """Who submitted the application (its "application.submitted" row), if anyone did: how
        the API knows whose a submission still being verified is, before it has a record."""
        actor: str | None = await self._pool.fetchval(
            """
            SELECT actor FROM audit_log WHERE application_id = $1 AND action = 'application.submitted'
             ORDER BY seq LIMIT 1
            """,
            application_id,
        )
        return actor

    async def for_application(self, application_id: str, limit: int = 500) -> list[AuditEntry]:
        rows = await self._pool.fetch(
            f"SELECT {_COLUMNS} FROM audit_log WHERE application_id = $1 ORDER BY seq LIMIT $2", application_id, limit
        )
        return [_entry(row) for row in rows]

    async def verify(self) -> ChainCheck:
        """Recompute the chain from the start. Returns the first row that does not fit:
        a changed row, a missing one (a gap in seq) or a head that does not match the log."""
        prev_hash = GENESIS_HASH
        expected_seq = 1
        checked = 0
        async with self._pool.acquire() as connection, connection.transaction(isolation="repeatable_read"):
            async for row in connection.cursor(f"SELECT {_COLUMNS} FROM audit_log ORDER BY seq"):
                seq = row["seq"]
                if seq != expected_seq:
                    return ChainCheck(False, checked, expected_seq, f"row {expected_seq} is missing")
                if row["prev_hash"] != prev_hash:
                    return ChainCheck(False, checked, seq, f"row {seq} does not follow row {seq - 1}")
                digest = chain_hash(
                    prev_hash, seq, row["at"], row["actor"], row["action"], row["application_id"], row["details_json"]
                )
                if digest != row["hash"]:
                    return ChainCheck(False, checked, seq, f"row {seq} was changed after it was written")
                prev_hash = digest
                expected_seq += 1
                checked += 1
            head = await connection.fetchrow("SELECT seq, hash FROM audit_chain_head WHERE singleton")
        if head is None or head["seq"] != checked or head["hash"] != prev_hash:
            return ChainCheck(False, checked, checked + 1 if checked else 1, "the log ends before its recorded head")
        return ChainCheck(True, checked)


_COLUMNS = "seq, at, actor, action, application_id, details_json, prev_hash, hash"


def _entry(row: asyncpg.Record) -> AuditEntry:
    return AuditEntry(
        seq=row["seq"],
        at=row["at"],
        actor=row["actor"],
        action=row["action"],
        application_id=row["application_id"],
        details=json_loads(row["details_json"]),
        prev_hash=row["prev_hash"],
        hash=row["hash"],
    )
