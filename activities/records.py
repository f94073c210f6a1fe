"""The platform's own records, written by the workflow: the applications read model (the
workflow's projection, written right after it took a transition — a versioned upsert, so a
repeat or a late write is harmless) and ledger bookings that have no external call."""

from __future__ import annotations

from decimal import Decimal
from typing import Protocol

from temporalio import activity

from domain import steps
from domain.application import ApplicationView


class ViewRecorder(Protocol):
    async def upsert_view(
        self, view: ApplicationView, event: str, collection_account_no: str | None = None
    ) -> None: ...


class WriteOffLedger(Protocol):
    async def post_write_off(
        self,
        application_id: str,
        bank_code: str,
        principal: Decimal,
        interest: Decimal,
        penalty: Decimal,
        key: str,
    ) -> None: ...


class RecordActivities:
    def __init__(self, views: ViewRecorder, ledger: WriteOffLedger) -> None:
        self._views = views
        self._ledger = ledger

    @activity.defn(name=steps.RECORD_APPLICATION)
    async def record_application(self, record: steps.RecordApplication) -> None:
        await self._views.upsert_view(record.view, record.event, record.collection_account_no)

    @activity.defn(name=steps.BOOK_WRITE_OFF)
    async def book_write_off(self, booking: steps.WriteOffBooking) -> None:
        await self._ledger.post_write_off(
            booking.application_id,
            booking.bank_code,
            booking.principal,
            booking.interest,
            booking.penalty,
            steps.idempotency_key(booking.application_id, "write-off"),
        )
