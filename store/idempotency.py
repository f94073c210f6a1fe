"""Idempotency keys of bank requests (API.md `Idempotency-Key`), scoped per bank.

The protocol, for one request carrying a key::

    hash = request_hash(parsed_body)
    existing = await keys.reserve(bank, key, hash, application_id=new_id)
    if existing is None:            # ours: act, then
        ... await keys.store(bank, key, 201, body, application_id)   # or, if refused:
        ... await keys.release(bank, key)                            # a retry re-evaluates
    elif existing.request_hash != hash:            → 422 idempotency_key_mismatch
    elif existing.response_status is not None:     → replay the stored response
    else:                                          → the first request is still running

Reserving inserts the row first, under the (bank_code, key) primary key, so of two
concurrent identical requests exactly one acts. The application id is chosen at reservation
and stored with it: the workflow id derives from it, so a request that finds the first one
still running may attach to the same workflow rather than start another.
"""

from __future__ import annotations

import hashlib
from datetime import timedelta
from typing import Any, NamedTuple

import asyncpg

from store.db import canonical_json

# A reservation never completed or released within this time belongs to a request that died
# mid-flight (the longest request, a submission, waits 25 s); a retry with the same body may
# take it over (keeping its application id).
STALE_RESERVATION = timedelta(minutes=1)


class StoredResponse(NamedTuple):
    request_hash: str
    response_status: int | None  # None: reserved, the first request has not finished
    response_body: Any
    application_id: str | None


class Claim(NamedTuple):
    existing: StoredResponse | None  # None: this request holds the key and goes ahead
    taken_over: bool  # it holds it by taking over a reservation whose request died mid-flight


def request_hash(parsed_body: Any) -> str:
    """SHA-256 of the body as parsed JSON, so key order and whitespace do not matter."""
    return hashlib.sha256(canonical_json(parsed_body).encode()).hexdigest()


class IdempotencyRepository:
    def __init__(self, pool: asyncpg.Pool, *, stale_after: timedelta = STALE_RESERVATION) -> None:
        self._pool = pool
        self._stale_after = stale_after

    async def lookup(self, bank_code: str, key: str) -> StoredResponse | None:
        row = await self._pool.fetchrow(
            """
            SELECT request_hash, response_status, response_body, application_id FROM idempotency_keys
             WHERE bank_code = $1 AND idempotency_key = $2
            """,
            bank_code,
            key,
        )
        return StoredResponse(*row) if row is not None else None

    async def reserve(
        self, bank_code: str, key: str, request_hash: str, application_id: str | None = None
    ) -> StoredResponse | None:
        """Claim `key` for this request. None: claimed, go ahead. Otherwise the record of the
        request that holds it (finished or still running).

        A reservation left unfinished for longer than `stale_after` with the same request
        hash is taken over (None is returned) and keeps its application id — read it with
        `lookup` — so the retry continues the same application instead of starting another.
        """
        return (await self.claim(bank_code, key, request_hash, application_id)).existing

    async def claim(self, bank_code: str, key: str, request_hash: str, application_id: str | None = None) -> Claim:
        """`reserve`, also telling whether a claim took over a request that died mid-flight:
        its change may already have been made, and this retry must hear that it was."""
        for _ in range(10):
            row = await self._pool.fetchrow(
                """
                INSERT INTO idempotency_keys AS k (bank_code, idempotency_key, request_hash, application_id)
                VALUES ($1, $2, $3, $4)
                ON CONFLICT (bank_code, idempotency_key) DO UPDATE SET reserved_at = now()
                 WHERE k.response_status IS NULL AND k.request_hash = EXCLUDED.request_hash
                   AND k.reserved_at < now() - $5::interval
                RETURNING xmax <> 0 AS taken_over
                """,
                bank_code,
                key,
                request_hash,
                application_id,
                self._stale_after,
            )
            if row is not None:  # xmax is set on the row an ON CONFLICT update wrote
                return Claim(existing=None, taken_over=bool(row["taken_over"]))
            existing = await self.lookup(bank_code, key)
            if existing is not None:
                return Claim(existing=existing, taken_over=False)
            # Released between our insert and our look (its request was refused): try again.
        raise RuntimeError(f"idempotency key {key!r} of {bank_code} keeps changing hands")

    async def store(
        self,
        bank_code: str,
        key: str,
        response_status: int,
        response_body: Any,
        application_id: str | None = None,
    ) -> None:
        """Fill in the response of the request that reserved `key`."""
        await self._pool.execute(
            """
            UPDATE idempotency_keys
               SET response_status = $3, response_body = $4, completed_at = now(),
                   application_id = coalesce($5, application_id)
             WHERE bank_code = $1 AND idempotency_key = $2
            """,
            bank_code,
            key,
            response_status,
            response_body,
            application_id,
        )

    async def release(self, bank_code: str, key: str) -> None:
        """Forget a reservation whose request was refused: a retry is evaluated afresh.
        A completed key is never released."""
        await self._pool.execute(
            "DELETE FROM idempotency_keys WHERE bank_code = $1 AND idempotency_key = $2 AND response_status IS NULL",
            bank_code,
            key,
        )
