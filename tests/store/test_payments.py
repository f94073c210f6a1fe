"""The inboxes: recorded before acknowledged, first copy kept, redelivered until delivered."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime
from decimal import Decimal

import asyncpg

from domain.application import AccountChangeEvent, TreasuryPayment
from domain.routing import Route
from store.payments import AccountChangeInbox, PaymentInbox


def payment(payment_id: str, amount: str = "1000.00", account: str = "6222020000000001") -> TreasuryPayment:
    return TreasuryPayment(
        payment_id=payment_id,
        contract_no="WX-2026-000123",
        payee_account_no=account,
        amount=Decimal(amount),
        paid_on=date(2027, 3, 31),
    )


def body(notice: TreasuryPayment) -> bytes:
    return notice.model_dump_json().encode()


ACCEPTED = Route("accepted", "app-1")


async def test_a_resent_payment_is_a_duplicate_and_the_first_copy_stands(db_pool: asyncpg.Pool) -> None:
    inbox = PaymentInbox(db_pool)
    first = payment("T-DUP-1", "1000.00")
    assert await inbox.record(first, body(first), ACCEPTED) == ("accepted", True)
    changed = payment("T-DUP-1", "9999.00")
    unmatched = Route("unmatched")
    assert await inbox.record(changed, body(changed), unmatched) == ("duplicate", False)
    stored = await inbox.get("T-DUP-1")
    assert stored is not None
    assert stored.amount == Decimal("1000.00") and stored.status == "accepted" and stored.duplicates == 1
    assert stored.notice() == first
    assert await inbox.raw_body("T-DUP-1") == body(first)


async def test_concurrent_copies_record_one_payment(db_pool: asyncpg.Pool) -> None:
    inbox = PaymentInbox(db_pool)
    notice = payment("T-RACE-1")
    outcomes = await asyncio.gather(*(inbox.record(notice, body(notice), ACCEPTED) for _ in range(6)))
    assert sorted(outcomes) == [("accepted", True)] + [("duplicate", False)] * 5


async def test_payments_for_a_loan_are_redelivered_until_delivered(db_pool: asyncpg.Pool) -> None:
    inbox = PaymentInbox(db_pool)
    for notice, classification in [
        (payment("T-DLV-1"), ACCEPTED),
        (
            payment("T-DLV-2", account="6222029999999999"),
            Route("misdirected", "app-1"),
        ),
        (payment("T-DLV-3"), Route("unmatched")),
    ]:
        await inbox.record(notice, body(notice), classification)
    pending = [p.payment_id for p in await inbox.undelivered() if p.payment_id.startswith("T-DLV-")]
    assert pending == ["T-DLV-1", "T-DLV-2"]  # unmatched payments have no workflow to go to
    await inbox.mark_delivered("T-DLV-1")
    await inbox.mark_delivered("T-DLV-1")
    pending = [p.payment_id for p in await inbox.undelivered() if p.payment_id.startswith("T-DLV-")]
    assert pending == ["T-DLV-2"]
    delivered = await inbox.get("T-DLV-1")
    assert delivered is not None and delivered.delivered_at is not None


async def test_ops_lists_what_was_kept_for_them(fresh_db_pool: asyncpg.Pool) -> None:
    inbox = PaymentInbox(fresh_db_pool)
    for n in range(5):
        notice = payment(f"T-OPS-U{n}")
        await inbox.record(notice, body(notice), Route("unmatched"))
    misdirected = payment("T-OPS-M0", account="6222029999999999")
    await inbox.record(misdirected, body(misdirected), Route("misdirected", "a"))
    await inbox.record(payment("T-OPS-A0"), b"{}", ACCEPTED)

    pages: list[list[str]] = []
    cursor: str | None = None
    while True:
        items, cursor = await inbox.list_for_ops("unmatched", limit=2, cursor=cursor)
        pages.append([p.payment_id for p in items])
        if cursor is None:
            break
    assert pages == [["T-OPS-U4", "T-OPS-U3"], ["T-OPS-U2", "T-OPS-U1"], ["T-OPS-U0"]]
    items, cursor = await inbox.list_for_ops("misdirected")
    assert [p.payment_id for p in items] == ["T-OPS-M0"] and cursor is None
    items, _ = await inbox.list_for_ops("kept")
    assert items == []


async def test_an_accepted_payment_whose_financing_ended_is_kept_not_delivered(db_pool: asyncpg.Pool) -> None:
    """Redelivery found the financing ended: the payment leaves the redelivery queue without being
    marked delivered, and ops find it with its reason."""
    inbox = PaymentInbox(db_pool)
    notice = payment("T-KEPT-1")
    await inbox.record(notice, body(notice), ACCEPTED)
    await inbox.keep("T-KEPT-1", "financing app-1 had ended")
    assert "T-KEPT-1" not in [p.payment_id for p in await inbox.undelivered(limit=1000)]
    stored = await inbox.get("T-KEPT-1")
    assert stored is not None and stored.delivered_at is None and stored.status == "accepted"
    assert stored.kept_reason == "financing app-1 had ended"
    kept, _ = await inbox.list_for_ops("kept", limit=200)
    assert "T-KEPT-1" in [p.payment_id for p in kept]


async def test_a_payment_whose_financing_ended_before_the_answer_is_unmatched(db_pool: asyncpg.Pool) -> None:
    inbox = PaymentInbox(db_pool)
    notice = payment("T-UNM-1")
    await inbox.record(notice, body(notice), ACCEPTED)
    await inbox.unmatch("T-UNM-1", "financing app-1 had ended")
    stored = await inbox.get("T-UNM-1")
    assert stored is not None and stored.status == "unmatched" and stored.application_id is None
    assert stored.kept_reason == "financing app-1 had ended"


async def test_account_change_events(db_pool: asyncpg.Pool) -> None:
    inbox = AccountChangeInbox(db_pool)
    event = AccountChangeEvent(
        event_id="E-1", contract_no="WX-1", decision="confirmed", decided_at=datetime(2026, 12, 1, 8, tzinfo=UTC)
    )
    raw = event.model_dump_json().encode()
    assert await inbox.record(event, raw, "app-9") == ("accepted", True)
    assert await inbox.record(event, raw, "app-9") == ("duplicate", False)
    stray = event.model_copy(update={"event_id": "E-2", "contract_no": "WX-UNKNOWN"})
    assert await inbox.record(stray, raw, None) == ("unmatched", True)

    pending = [e for e in await inbox.undelivered() if e.event_id in ("E-1", "E-2")]
    assert [e.event_id for e in pending] == ["E-1"]
    assert pending[0].event() == event and pending[0].application_id == "app-9"
    await inbox.mark_delivered("E-1")
    assert not [e for e in await inbox.undelivered() if e.event_id == "E-1"]
    stored = await inbox.get("E-1")
    assert stored is not None and stored.duplicates == 1 and stored.delivered_at is not None
