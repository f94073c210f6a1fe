"""The inboxes of signed callbacks: treasury payments and procurement account-change events.

A notification is recorded here before it is acknowledged (API.md: "durably recorded before
the 202"). Its id is the primary key, so a resent notification is a `duplicate` and the first
copy stands even if the resent body differs. Once the workflow has been signalled the row is
marked delivered; anything recorded but not delivered (a crash in between, Temporal briefly
unreachable) is found by `undelivered` and signalled again — the workflow deduplicates
signals by their business id, so a second delivery is harmless.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

import asyncpg
from pydantic import BaseModel

from domain.application import AccountChangeEvent, ShownInstant, TreasuryPayment
from domain.money import Money
from domain.routing import Route
from store.cursors import clamp_limit, decode_cursor, encode_cursor

PaymentStatus = Literal["accepted", "duplicate", "unmatched", "misdirected"]
StoredPaymentStatus = Literal["accepted", "unmatched", "misdirected"]
AccountChangeStatus = Literal["accepted", "duplicate", "unmatched"]


class StoredPayment(BaseModel):
    payment_id: str
    contract_no: str
    payee_account_no: str
    amount: Money
    paid_on: date
    status: StoredPaymentStatus
    application_id: str | None
    received_at: ShownInstant
    delivered_at: ShownInstant | None
    duplicates: int
    kept_reason: str | None = None  # accepted, but its financing had ended when it was handed over

    def notice(self) -> TreasuryPayment:
        """The notification as the workflow is signalled with it."""
        return TreasuryPayment(
            payment_id=self.payment_id,
            contract_no=self.contract_no,
            payee_account_no=self.payee_account_no,
            amount=self.amount,
            paid_on=self.paid_on,
        )


class StoredAccountChange(BaseModel):
    event_id: str
    contract_no: str
    decision: Literal["confirmed", "refused"]
    decided_at: datetime
    status: Literal["accepted", "unmatched"]
    application_id: str | None
    received_at: ShownInstant
    delivered_at: ShownInstant | None
    duplicates: int
    kept_reason: str | None = None

    def event(self) -> AccountChangeEvent:
        return AccountChangeEvent(
            event_id=self.event_id, contract_no=self.contract_no, decision=self.decision, decided_at=self.decided_at
        )


# Recorded but not yet signalled to their workflow: what redelivery sends again (and what the
# zcd_inbox_undelivered gauge counts).
UNDELIVERED_PAYMENTS = "delivered_at IS NULL AND kept_reason IS NULL AND status <> 'unmatched'"
UNDELIVERED_ACCOUNT_CHANGES = "delivered_at IS NULL AND kept_reason IS NULL AND status = 'accepted'"
# what `GET /v1/ops/payments?status=kept` lists: accepted, never applied, kept for a person
KEPT_PAYMENTS = "kept_reason IS NOT NULL"

_PAYMENT_COLUMNS = (
    "payment_id, contract_no, payee_account_no, amount, paid_on, status, application_id, received_at, "
    "delivered_at, duplicates, kept_reason"
)
_EVENT_COLUMNS = (
    "event_id, contract_no, decision, decided_at, status, application_id, received_at, delivered_at, duplicates, "
    "kept_reason"
)


class PaymentInbox:
    """Treasury payment notifications."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def record(self, notice: TreasuryPayment, raw_body: bytes, route: Route) -> tuple[PaymentStatus, bool]:
        """Record a notification. Returns (status for the 202, is_new): the classification's
        status for a new payment_id, ("duplicate", False) for one seen before."""
        row = await self._pool.fetchrow(
            """
            INSERT INTO treasury_payments (payment_id, contract_no, payee_account_no, amount, paid_on, status,
                                           application_id, raw_body)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
            ON CONFLICT (payment_id) DO UPDATE
               SET duplicates = treasury_payments.duplicates + 1, last_duplicate_at = now()
            RETURNING (xmax = 0) AS inserted
            """,
            notice.payment_id,
            notice.contract_no,
            notice.payee_account_no,
            notice.amount,
            notice.paid_on,
            route.status,
            route.application_id,
            raw_body,
        )
        assert row is not None  # INSERT ... RETURNING with DO UPDATE always returns the row
        if row["inserted"]:
            return route.status, True
        return "duplicate", False

    async def get(self, payment_id: str) -> StoredPayment | None:
        row = await self._pool.fetchrow(
            f"SELECT {_PAYMENT_COLUMNS} FROM treasury_payments WHERE payment_id = $1", payment_id
        )
        return StoredPayment(**dict(row)) if row is not None else None

    async def raw_body(self, payment_id: str) -> bytes | None:
        """Exactly the bytes the treasury signed, as first received."""
        body: bytes | None = await self._pool.fetchval(
            "SELECT raw_body FROM treasury_payments WHERE payment_id = $1", payment_id
        )
        return body

    async def mark_delivered(self, payment_id: str) -> None:
        """The workflow has been signalled with this payment (kept at the first time)."""
        await self._pool.execute(
            "UPDATE treasury_payments SET delivered_at = now() WHERE payment_id = $1 AND delivered_at IS NULL",
            payment_id,
        )

    async def unmatch(self, payment_id: str, reason: str) -> None:
        """Before it was answered, the payment's financing turned out to have ended (between the
        registry look-up and the hand-over): it is unmatched, kept for ops with the reason."""
        await self._pool.execute(
            """
            UPDATE treasury_payments SET status = 'unmatched', application_id = NULL, kept_reason = $2
             WHERE payment_id = $1 AND delivered_at IS NULL
            """,
            payment_id,
            reason,
        )

    async def keep(self, payment_id: str, reason: str) -> None:
        """An accepted payment that can no longer reach its financing (it ended before the
        hand-over, e.g. the API died in between): kept for ops, never silently marked delivered."""
        await self._pool.execute(
            "UPDATE treasury_payments SET kept_reason = $2 WHERE payment_id = $1 AND delivered_at IS NULL",
            payment_id,
            reason,
        )

    async def undelivered(self, limit: int = 100) -> list[StoredPayment]:
        """Payments for a loan (accepted or misdirected) not yet signalled, oldest first."""
        rows = await self._pool.fetch(
            f"""
            SELECT {_PAYMENT_COLUMNS} FROM treasury_payments
             WHERE {UNDELIVERED_PAYMENTS}
             ORDER BY received_at, payment_id
             LIMIT $1
            """,
            clamp_limit(limit, maximum=1000),
        )
        return [StoredPayment(**dict(row)) for row in rows]

    async def list_for_ops(
        self, status: Literal["unmatched", "misdirected", "kept"], limit: int = 50, cursor: str | None = None
    ) -> tuple[list[StoredPayment], str | None]:
        """GET /v1/ops/payments?status=…: what was kept for ops, newest first. `kept`: accepted
        payments that never reached a financing (it had ended), with the reason."""
        limit = clamp_limit(limit)
        args: list[object] = []
        where = KEPT_PAYMENTS
        if status != "kept":
            args.append(status)
            where = "status = $1"
        after = ""
        if cursor is not None:
            after_at, after_id = decode_cursor(cursor)
            args += [after_at, after_id]
            after = f"AND (received_at, payment_id) < (${len(args) - 1}, ${len(args)})"
        args.append(limit + 1)
        rows = await self._pool.fetch(
            f"""
            SELECT {_PAYMENT_COLUMNS} FROM treasury_payments
             WHERE {where} {after}
             ORDER BY received_at DESC, payment_id DESC
             LIMIT ${len(args)}
            """,
            *args,
        )
        items = [StoredPayment(**dict(row)) for row in rows[:limit]]
        next_cursor = None
        if len(rows) > limit:
            last = items[-1]
            next_cursor = encode_cursor(last.received_at, last.payment_id)
        return items, next_cursor

    async def recorded_total(self, contract_no: str) -> Money:
        """The sum of every treasury payment the platform recorded on the contract, whatever its
        status (accepted, unmatched or misdirected: the purchaser paid it all), each payment_id
        once (the primary key; duplicates only count up `duplicates`). Eligibility counts it
        (API.md v1.1, "Nothing lost, nothing forged")."""
        total: Money = await self._pool.fetchval(
            "SELECT COALESCE(SUM(amount), 0.00) FROM treasury_payments WHERE contract_no = $1", contract_no
        )
        return total


class AccountChangeInbox:
    """The procurement system's callbacks with the purchaser's answer to a payee change."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def record(
        self, event: AccountChangeEvent, raw_body: bytes, application_id: str | None
    ) -> tuple[AccountChangeStatus, bool]:
        """Record an event for `application_id` (the contract's active financing, or None:
        `unmatched`). Returns (status, is_new); a repeated event_id is ("duplicate", False)."""
        status: Literal["accepted", "unmatched"] = "accepted" if application_id is not None else "unmatched"
        row = await self._pool.fetchrow(
            """
            INSERT INTO account_change_events (event_id, contract_no, decision, decided_at, status, application_id,
                                               raw_body)
            VALUES ($1, $2, $3, $4, $5, $6, $7)
            ON CONFLICT (event_id) DO UPDATE
               SET duplicates = account_change_events.duplicates + 1, last_duplicate_at = now()
            RETURNING (xmax = 0) AS inserted
            """,
            event.event_id,
            event.contract_no,
            event.decision,
            event.decided_at,
            status,
            application_id,
            raw_body,
        )
        assert row is not None
        if row["inserted"]:
            return status, True
        return "duplicate", False

    async def get(self, event_id: str) -> StoredAccountChange | None:
        row = await self._pool.fetchrow(
            f"SELECT {_EVENT_COLUMNS} FROM account_change_events WHERE event_id = $1", event_id
        )
        return StoredAccountChange(**dict(row)) if row is not None else None

    async def mark_delivered(self, event_id: str) -> None:
        await self._pool.execute(
            "UPDATE account_change_events SET delivered_at = now() WHERE event_id = $1 AND delivered_at IS NULL",
            event_id,
        )

    async def unmatch(self, event_id: str, reason: str) -> None:
        """Its financing had ended before the hand-over: unmatched, kept with the reason."""
        await self._pool.execute(
            """
            UPDATE account_change_events SET status = 'unmatched', application_id = NULL, kept_reason = $2
             WHERE event_id = $1 AND delivered_at IS NULL
            """,
            event_id,
            reason,
        )

    async def keep(self, event_id: str, reason: str) -> None:
        await self._pool.execute(
            "UPDATE account_change_events SET kept_reason = $2 WHERE event_id = $1 AND delivered_at IS NULL",
            event_id,
            reason,
        )

    async def undelivered(self, limit: int = 100) -> list[StoredAccountChange]:
        """Accepted events not yet signalled to their workflow, oldest first."""
        rows = await self._pool.fetch(
            f"""
            SELECT {_EVENT_COLUMNS} FROM account_change_events
             WHERE {UNDELIVERED_ACCOUNT_CHANGES}
             ORDER BY received_at, event_id
             LIMIT $1
            """,
            clamp_limit(limit, maximum=1000),
        )
        return [StoredAccountChange(**dict(row)) for row in rows]
