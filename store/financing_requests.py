"""Financing requests suppliers post and the offers banks answer them with (API.md v1.1
"Suppliers"). The request's life: `open` → `accepting` (the platform is submitting the accepted
offer on the bank's behalf) → `accepted`; or `open` → `cancelled` by the supplier; or `open` →
`expired` once its `expires_at` has passed. A refused submission puts it back to `open` (or
`expired`, if its time passed meanwhile). A request in `accepting` never expires.

What must hold whatever races, the database holds: one request in play per contract (a partial
unique index), one open offer per bank and request (another), and every change of status is made
under a row lock on the request, so an offer cannot land on a request being accepted and two
offers cannot be accepted at once.

Expiry is applied lazily, here: every read and every change first expires the requests that are
still open past their time (`expire_due`: their rows locked in id order, then their open offers
lapsed, in one transaction), and a change re-checks its own request under its row lock. So no
reader ever sees an open request past its time (judged by the repository's clock when it reads),
an offer or an acceptance on one is refused (`NotOpen("expired")`), and its contract is free for
a new request at once.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
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
    expires_at: datetime
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
    created_at, expires_at"""

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


class FinancingRequests:
    def __init__(self, pool: asyncpg.Pool, clock: Clock = utc_now) -> None:
        self._pool = pool
        self._clock = clock  # what "past its time" is judged by (tests pass their own)

    async def expire_due(self) -> list[str]:
        """Expire every request still open at or past its `expires_at` and lapse its open offers;
        the ids of those this call expired. Run before every read and change below."""
        now = self._clock()
        async with self._pool.acquire() as connection:
            # the common case reads one partial index and takes no lock
            due = await connection.fetchval(
                "SELECT EXISTS (SELECT 1 FROM financing_requests WHERE status = 'open' AND expires_at <= $1)", now
            )
            if not due:
                return []
            async with connection.transaction():
                # locked in id order (no deadlock between two sweeps); one being changed is waited for
                # and, if no longer open, left alone
                rows = await connection.fetch(
                    """
                    SELECT request_id FROM financing_requests WHERE status = 'open' AND expires_at <= $1
                     ORDER BY request_id FOR UPDATE
                    """,
                    now,
                )
                ids = [row["request_id"] for row in rows]
                await _expire_locked(connection, ids, now)
                return ids

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
        created_at: datetime,
        expires_at: datetime,
    ) -> RequestRecord:
        """A new open request, made at `created_at`, open until `expires_at`; `AlreadyOpen` when
        the contract has one in play (an expired one no longer is)."""
        request_id = "FR" + uuid.uuid4().hex[:20].upper()
        profile = credit_profile.model_dump(mode="json") | {"supplier_name": supplier_name}
        await self.expire_due()
        try:
            await self._pool.execute(
                """
                INSERT INTO financing_requests (request_id, supplier_credit_code, contract_no, requested_amount,
                    collection_account_no, collection_account_name, status, contract, known_paid, credit_profile,
                    created_at, updated_at, expires_at)
                VALUES ($1, $2, $3, $4, $5, $6, 'open', $7, $8, $9, $10, $10, $11)
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
                created_at,
                expires_at,
            )
        except asyncpg.UniqueViolationError as error:
            raise AlreadyOpen(contract.contract_no) from error
        found = await self.get(request_id)
        assert found is not None
        return found

    async def get(self, request_id: str) -> RequestRecord | None:
        await self.expire_due()
        async with self._pool.acquire() as connection:
            return await _get(connection, request_id)

    async def in_play_for(self, contract_no: str) -> RequestRecord | None:
        """The contract's request that is open or being accepted, if any."""
        await self.expire_due()
        request_id = await self._pool.fetchval(
            "SELECT request_id FROM financing_requests WHERE contract_no = $1 AND status IN ('open', 'accepting')",
            contract_no,
        )
        if request_id is None:
            return None
        async with self._pool.acquire() as connection:
            return await _get(connection, request_id)

    async def of_supplier(self, credit_code: str, limit: int = 50) -> list[RequestRecord]:
        """The supplier's requests, newest first."""
        await self.expire_due()
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
        await self.expire_due()
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
        """The bank's offer on an open request, replacing its earlier open one; `NotOpen` else
        (`expired` for one past its time)."""
        offer_id = "OF" + uuid.uuid4().hex[:20].upper()
        await self.expire_due()
        row: asyncpg.Record | None = None
        async with self._pool.acquire() as connection:
            async with connection.transaction():  # a refusal commits what `_lock` expired, then is raised
                status = await self._lock(connection, request_id)
                if status == "open":
                    await connection.execute(
                        "UPDATE financing_offers SET status = 'replaced' WHERE request_id = $1 AND bank_code = $2 "
                        "AND status = 'open'",
                        request_id,
                        bank_code,
                    )
                    row = await connection.fetchrow(
                        """
                        INSERT INTO financing_offers (offer_id, request_id, bank_code, product_code,
                            approved_amount, annual_rate, term_days, status)
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
        if row is None:
            raise NotOpen(status or "missing")
        return OfferRecord(**dict(row))

    async def begin_accept(self, request_id: str, offer_id: str) -> Acceptance:
        """Move the request to `accepting` with this offer (or find it already there or done);
        `NotOpen` when the request is cancelled or expired, accepted with another offer, being
        accepted with another, or the offer is not open."""
        await self.expire_due()
        async with self._pool.acquire() as connection:
            async with connection.transaction():  # a refusal commits what `_lock` expired, then is raised
                status = await self._lock(connection, request_id)
                request = await _get(connection, request_id)
                assert request is not None and status is not None
                offer = request.offer(offer_id)
                if request.accepted_offer_id == offer_id and status in ("accepting", "accepted"):
                    return Acceptance("done" if status == "accepted" else "resumed", request)
                if status != "open":
                    refusal = status
                elif offer is None or offer.status != "open":
                    refusal = f"offer {offer.status if offer else 'missing'}"
                else:
                    await connection.execute(
                        "UPDATE financing_requests SET status = 'accepting', accepted_offer_id = $2, "
                        "updated_at = now() WHERE request_id = $1",
                        request_id,
                        offer_id,
                    )
                    started = await _get(connection, request_id)
                    assert started is not None
                    return Acceptance("started", started)
        raise NotOpen(refusal)

    async def note_application(self, request_id: str, application_id: str) -> None:
        """The application the acceptance is submitting (known before its answer comes)."""
        await self.expire_due()
        await self._pool.execute(
            "UPDATE financing_requests SET application_id = $2, updated_at = now() WHERE request_id = $1",
            request_id,
            application_id,
        )

    async def finish_accept(self, request_id: str, offer_id: str, application_id: str) -> None:
        """Accepted: the offer accepted, every other open offer lapsed."""
        await self.expire_due()
        async with self._pool.acquire() as connection, connection.transaction():
            await self._lock(connection, request_id)  # accepting: never expires
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
        """The submission was refused: the request is open again, as it was — or expired, with its
        offers lapsed, if its time passed while the platform was submitting it."""
        await self.expire_due()
        async with self._pool.acquire() as connection, connection.transaction():
            reopened = await connection.fetchval(
                "UPDATE financing_requests SET status = 'open', accepted_offer_id = NULL, application_id = NULL, "
                "updated_at = now() WHERE request_id = $1 AND status = 'accepting' AND accepted_offer_id = $2 "
                "RETURNING expires_at",
                request_id,
                offer_id,
            )
            now = self._clock()
            if reopened is not None and reopened <= now:
                await _expire_locked(connection, [request_id], now)

    async def cancel(self, request_id: str) -> None:
        """The supplier withdraws its open request; its open offers lapse. `NotOpen` else."""
        await self.expire_due()
        async with self._pool.acquire() as connection:
            async with connection.transaction():  # a refusal commits what `_lock` expired, then is raised
                status = await self._lock(connection, request_id)
                if status == "open":
                    await connection.execute(
                        "UPDATE financing_requests SET status = 'cancelled', updated_at = now() WHERE request_id = $1",
                        request_id,
                    )
                    await connection.execute(
                        "UPDATE financing_offers SET status = 'lapsed' WHERE request_id = $1 AND status = 'open'",
                        request_id,
                    )
            if status != "open":
                raise NotOpen(status or "missing")

    async def _lock(self, connection: Connection, request_id: str) -> str | None:
        """The request's status under its row lock, for the change about to be made; one still open
        past its time is expired here first (so the change sees `expired`)."""
        row = await connection.fetchrow(
            "SELECT status, expires_at FROM financing_requests WHERE request_id = $1 FOR UPDATE", request_id
        )
        if row is None:
            return None
        now = self._clock()
        if row["status"] == "open" and row["expires_at"] <= now:
            await _expire_locked(connection, [request_id], now)
            return "expired"
        status: str = row["status"]
        return status


async def _expire_locked(connection: Connection, request_ids: list[str], now: datetime) -> None:
    """Expire the open requests `request_ids`, whose rows this transaction has locked, and lapse
    their open offers. The offers are read by a statement of their own, after the locks were
    taken: every change to a request's offers is made under its lock, so none is missed."""
    if not request_ids:
        return
    await connection.execute(
        "UPDATE financing_requests SET status = 'expired', updated_at = $2 WHERE request_id = ANY($1) "
        "AND status = 'open'",
        request_ids,
        now,
    )
    await connection.execute(
        "UPDATE financing_offers SET status = 'lapsed' WHERE request_id = ANY($1) AND status = 'open'", request_ids
    )


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
