"""Financing requests suppliers post and the offers banks answer them with (API.md v1.1
"Suppliers"). The request's life: `open` → `accepting` (the platform is submitting the accepted
offer on the bank's behalf) → `accepted`; or `open` → `cancelled` by the supplier. A refused
submission puts it back to `open`.

What must hold whatever races, the database holds: one request in play per contract (a partial
unique index), one open offer per bank and request (another), and every change of status is made
under a row lock on the request, so an offer cannot land on a request being accepted and two
offers cannot be accepted at once.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, Literal

import asyncpg
from pydantic import BaseModel

from domain.credit_profile import CreditProfile
from domain.supplier_channel import OfferStatus, RequestContract, RequestStatus
from store.cursors import clamp_limit, decode_cursor, encode_cursor
from store.db import Connection


class OfferRecord(BaseModel):
    offer_id: str
    request_id: str
    bank_code: str
    product_code: str
    approved_amount: Decimal
    annual_rate: Decimal
    term_days: int
    status: OfferStatus
    created_at: datetime


class RequestRecord(BaseModel):
    request_id: str
    supplier_credit_code: str
    supplier_name: str | None
    contract_no: str
    requested_amount: Decimal
    collection_account_no: str
    collection_account_name: str
    status: RequestStatus
    contract: RequestContract
    known_paid: Decimal
    credit_profile: CreditProfile
    accepted_offer_id: str | None
    application_id: str | None
    created_at: datetime
    offers: list[OfferRecord] = []

    def offer(self, offer_id: str) -> OfferRecord | None:
        return next((o for o in self.offers if o.offer_id == offer_id), None)


class AlreadyOpen(Exception):
    """The contract already has a request in play."""


class NotOpen(Exception):
    """The request is not (or no longer) open: `status` says what it is."""

    def __init__(self, status: str) -> None:
        super().__init__(status)
        self.status = status


@dataclass(frozen=True)
class Acceptance:
    """How an acceptance may go on: `started` (this call moved the request to accepting),
    `resumed` (a retry of the same acceptance, still under way), or `done` (already accepted
    with this offer: answer with its application)."""

    how: Literal["started", "resumed", "done"]
    request: RequestRecord


_COLUMNS = """request_id, supplier_credit_code, contract_no, requested_amount, collection_account_no,
    collection_account_name, status, contract, known_paid, credit_profile, accepted_offer_id, application_id,
    created_at"""


class FinancingRequests:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def create(
        self,
        *,
        supplier_credit_code: str,
        supplier_name: str | None,
        contract: RequestContract,
        requested_amount: Decimal,
        collection_account_no: str,
        collection_account_name: str,
        known_paid: Decimal,
        credit_profile: CreditProfile,
    ) -> RequestRecord:
        """A new open request; `AlreadyOpen` when the contract has one in play."""
        request_id = "FR" + uuid.uuid4().hex[:20].upper()
        profile = credit_profile.model_dump(mode="json") | {"supplier_name": supplier_name}
        try:
            await self._pool.execute(
                """
                INSERT INTO financing_requests (request_id, supplier_credit_code, contract_no, requested_amount,
                    collection_account_no, collection_account_name, status, contract, known_paid, credit_profile)
                VALUES ($1, $2, $3, $4, $5, $6, 'open', $7, $8, $9)
                """,
                request_id,
                supplier_credit_code,
                contract.contract_no,
                requested_amount,
                collection_account_no,
                collection_account_name,
                contract.model_dump(mode="json"),
                known_paid,
                profile,
            )
        except asyncpg.UniqueViolationError as error:
            raise AlreadyOpen(contract.contract_no) from error
        found = await self.get(request_id)
        assert found is not None
        return found

    async def get(self, request_id: str) -> RequestRecord | None:
        async with self._pool.acquire() as connection:
            return await _get(connection, request_id)

    async def in_play_for(self, contract_no: str) -> RequestRecord | None:
        """The contract's request that is open or being accepted, if any."""
        request_id = await self._pool.fetchval(
            "SELECT request_id FROM financing_requests WHERE contract_no = $1 AND status IN ('open', 'accepting')",
            contract_no,
        )
        return await self.get(request_id) if request_id else None

    async def of_supplier(self, credit_code: str, limit: int = 50) -> list[RequestRecord]:
        """The supplier's requests, newest first."""
        ids = await self._pool.fetch(
            """
            SELECT request_id FROM financing_requests WHERE supplier_credit_code = $1
             ORDER BY created_at DESC, request_id DESC LIMIT $2
            """,
            credit_code,
            clamp_limit(limit),
        )
        async with self._pool.acquire() as connection:
            return [r for row in ids if (r := await _get(connection, row["request_id"])) is not None]

    async def for_bank(
        self, bank_code: str, status: RequestStatus | None, limit: int, cursor: str | None
    ) -> tuple[list[RequestRecord], str | None]:
        """What a bank sees, newest first: every open request, and any request it offered on.
        `status` filters; `cursor` (the store's, `InvalidCursor` if not one) continues a page."""
        limit = clamp_limit(limit)
        args: list[Any] = [bank_code]
        conditions = [
            "(r.status = 'open' OR EXISTS (SELECT 1 FROM financing_offers o "
            "WHERE o.request_id = r.request_id AND o.bank_code = $1))"
        ]
        if status is not None:
            args.append(status)
            conditions.append(f"r.status = ${len(args)}")
        if cursor is not None:
            at, key = decode_cursor(cursor)
            args.extend([at, key])
            conditions.append(f"(r.created_at, r.request_id) < (${len(args) - 1}, ${len(args)})")
        args.append(limit + 1)
        rows = await self._pool.fetch(
            f"""
            SELECT r.request_id, r.created_at FROM financing_requests r WHERE {" AND ".join(conditions)}
             ORDER BY r.created_at DESC, r.request_id DESC LIMIT ${len(args)}
            """,
            *args,
        )
        async with self._pool.acquire() as connection:
            items = [r for row in rows[:limit] if (r := await _get(connection, row["request_id"])) is not None]
        next_cursor = None
        if len(rows) > limit:
            last = rows[limit - 1]
            next_cursor = encode_cursor(last["created_at"], last["request_id"])
        return items, next_cursor

    async def offer(
        self, request_id: str, bank_code: str, product_code: str, amount: Decimal, rate: Decimal, term_days: int
    ) -> OfferRecord:
        """The bank's offer on an open request, replacing its earlier open one; `NotOpen` else."""
        offer_id = "OF" + uuid.uuid4().hex[:20].upper()
        async with self._pool.acquire() as connection, connection.transaction():
            status = await _lock(connection, request_id)
            if status != "open":
                raise NotOpen(status or "missing")
            await connection.execute(
                "UPDATE financing_offers SET status = 'replaced' WHERE request_id = $1 AND bank_code = $2 "
                "AND status = 'open'",
                request_id,
                bank_code,
            )
            row = await connection.fetchrow(
                """
                INSERT INTO financing_offers (offer_id, request_id, bank_code, product_code, approved_amount,
                    annual_rate, term_days, status)
                VALUES ($1, $2, $3, $4, $5, $6, $7, 'open') RETURNING *
                """,
                offer_id,
                request_id,
                bank_code,
                product_code,
                amount,
                rate,
                term_days,
            )
            await _touch(connection, request_id)
        assert row is not None
        return OfferRecord(**dict(row))

    async def begin_accept(self, request_id: str, offer_id: str) -> Acceptance:
        """Move the request to `accepting` with this offer (or find it already there or done);
        `NotOpen` when the request is cancelled, accepted with another offer, being accepted
        with another, or the offer is not open."""
        async with self._pool.acquire() as connection, connection.transaction():
            status = await _lock(connection, request_id)
            request = await _get(connection, request_id)
            assert request is not None and status is not None
            offer = request.offer(offer_id)
            if request.accepted_offer_id == offer_id and status in ("accepting", "accepted"):
                return Acceptance("done" if status == "accepted" else "resumed", request)
            if status != "open":
                raise NotOpen(status)
            if offer is None or offer.status != "open":
                raise NotOpen(f"offer {offer.status if offer else 'missing'}")
            await connection.execute(
                "UPDATE financing_requests SET status = 'accepting', accepted_offer_id = $2, updated_at = now() "
                "WHERE request_id = $1",
                request_id,
                offer_id,
            )
            started = await _get(connection, request_id)
            assert started is not None
            return Acceptance("started", started)

    async def note_application(self, request_id: str, application_id: str) -> None:
        """The application the acceptance is submitting (known before its answer comes)."""
        await self._pool.execute(
            "UPDATE financing_requests SET application_id = $2, updated_at = now() WHERE request_id = $1",
            request_id,
            application_id,
        )

    async def finish_accept(self, request_id: str, offer_id: str, application_id: str) -> None:
        """Accepted: the offer accepted, every other open offer lapsed."""
        async with self._pool.acquire() as connection, connection.transaction():
            await _lock(connection, request_id)
            await connection.execute(
                "UPDATE financing_requests SET status = 'accepted', application_id = $3, updated_at = now() "
                "WHERE request_id = $1 AND accepted_offer_id = $2",
                request_id,
                offer_id,
                application_id,
            )
            await connection.execute(
                "UPDATE financing_offers SET status = CASE WHEN offer_id = $2 THEN 'accepted' ELSE 'lapsed' END "
                "WHERE request_id = $1 AND status = 'open'",
                request_id,
                offer_id,
            )

    async def undo_accept(self, request_id: str, offer_id: str) -> None:
        """The submission was refused: the request is open again, as it was."""
        await self._pool.execute(
            "UPDATE financing_requests SET status = 'open', accepted_offer_id = NULL, application_id = NULL, "
            "updated_at = now() WHERE request_id = $1 AND status = 'accepting' AND accepted_offer_id = $2",
            request_id,
            offer_id,
        )

    async def cancel(self, request_id: str) -> None:
        """The supplier withdraws its open request; its open offers lapse. `NotOpen` else."""
        async with self._pool.acquire() as connection, connection.transaction():
            status = await _lock(connection, request_id)
            if status != "open":
                raise NotOpen(status or "missing")
            await connection.execute(
                "UPDATE financing_requests SET status = 'cancelled', updated_at = now() WHERE request_id = $1",
                request_id,
            )
            await connection.execute(
                "UPDATE financing_offers SET status = 'lapsed' WHERE request_id = $1 AND status = 'open'", request_id
            )


async def _lock(connection: Connection, request_id: str) -> str | None:
    status: str | None = await connection.fetchval(
        "SELECT status FROM financing_requests WHERE request_id = $1 FOR UPDATE", request_id
    )
    return status


async def _touch(connection: Connection, request_id: str) -> None:
    await connection.execute("UPDATE financing_requests SET updated_at = now() WHERE request_id = $1", request_id)


async def _get(connection: Connection, request_id: str) -> RequestRecord | None:
    row = await connection.fetchrow(f"SELECT {_COLUMNS} FROM financing_requests WHERE request_id = $1", request_id)
    if row is None:
        return None
    offers = await connection.fetch(
        "SELECT * FROM financing_offers WHERE request_id = $1 ORDER BY created_at, offer_id", request_id
    )
    data = dict(row)
    profile = dict(data.pop("credit_profile"))
    supplier_name = profile.pop("supplier_name", None)
    return RequestRecord(
        **data,
        supplier_name=supplier_name,
        credit_profile=CreditProfile.model_validate(profile),
        offers=[OfferRecord(**dict(o)) for o in offers],
    )
