"""The financing registry: one active financing per contract, enforced by the database.

A registration is claimed during verification and released when the financing ends
without leaving a claim on the contract (settled, rejected, withdrawn, expired, failed);
a written-off financing keeps it. The rule lives in a partial unique index
(`financing_registry_one_active_per_contract`), so two applications racing for the same
contract — in one process or in many — cannot both hold it.
"""

from __future__ import annotations

from datetime import datetime
from typing import NamedTuple

import asyncpg


class Registration(NamedTuple):
    application_id: str
    bank_code: str
    claimed_at: datetime
    collection_account_no: str | None = None  # None for registrations from before it was kept


class RegistryRepository:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def claim(
        self, contract_no: str, application_id: str, bank_code: str, collection_account_no: str | None = None
    ) -> str | None:
        """Register `application_id` as the contract's active financing.

        Returns None when it now holds the registration (claimed here, or already held by
        this same application: a retried claim is harmless); otherwise the application_id
        of the financing that holds it.
        """
        for _ in range(10):
            claimed = await self._pool.fetchval(
                """
                INSERT INTO financing_registry (contract_no, application_id, bank_code, collection_account_no)
                VALUES ($1, $2, $3, $4)
                ON CONFLICT (contract_no) WHERE released_at IS NULL DO NOTHING
                RETURNING registration_id
                """,
                contract_no,
                application_id,
                bank_code,
                collection_account_no,
            )
            if claimed is not None:
                return None
            holder = await self.holder(contract_no)
            if holder is not None:
                return None if holder.application_id == application_id else holder.application_id
            # Released between our insert and our look: try again.
        raise RuntimeError(f"the registration of contract {contract_no} keeps changing hands")

    async def release(self, contract_no: str, application_id: str, reason: str | None = None) -> bool:
        """End `application_id`'s registration of the contract. Idempotent: True when this
        call released it, False when it was not (or no longer) held by that application."""
        status = await self._pool.execute(
            """
            UPDATE financing_registry SET released_at = now(), release_reason = $3
             WHERE contract_no = $1 AND application_id = $2 AND released_at IS NULL
            """,
            contract_no,
            application_id,
            reason,
        )
        return status == "UPDATE 1"

    async def holder(self, contract_no: str) -> Registration | None:
        """The financing that holds the contract now, if any."""
        row = await self._pool.fetchrow(
            """
            SELECT application_id, bank_code, claimed_at, collection_account_no FROM financing_registry
             WHERE contract_no = $1 AND released_at IS NULL
            """,
            contract_no,
        )
        if row is None:
            return None
        return Registration(row["application_id"], row["bank_code"], row["claimed_at"], row["collection_account_no"])
