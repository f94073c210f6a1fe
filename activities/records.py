"""The platform's own records written by the workflow's steps: the applications read model
(a versioned upsert, so repeating it is harmless) and ledger bookings without an external call."""

from __future__ import annotations

from decimal import Decimal
from typing import Protocol, TypeVar

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
        await self._views.upsert_view(record.view, record.event)

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
        await record_view_after(self._views, booking, "written_off")


async def record_view_after(
    views: ViewRecorder, step: steps.Step, event: str, collection_account_no: str | None = None
) -> None:
    """Write the view the workflow computed for after this step (see `domain.steps.Step`).

    `collection_account_no`: the account that becomes the contract's locked payee account,
    passed by the steps that know it (payee change, treasury lock); the read model keeps it
    to classify treasury payments."""
    if step.view_after is not None:
        await views.upsert_view(step.view_after, event, collection_account_no)


S = TypeVar("S", bound=steps.Step)


def outbound(step: S) -> S:
    """The step without the read-model view: external systems never see it."""
    return step.model_copy(update={"view_after": None})
