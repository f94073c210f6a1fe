"""PaymentInbox.recorded_total: every treasury payment recorded on a contract, whatever its
status, each payment_id once — what eligibility counts as paid. Rows are written as the
inbox stores them (its columns from 005_inbox.sql), so the test does not depend on how a
notice is classified on the way in."""

from __future__ import annotations

import asyncio
from datetime import date
from decimal import Decimal

import asyncpg

from store.payments import PaymentInbox


async def recorded(pool: asyncpg.Pool, payment_id: str, contract_no: str, amount: str, status: str) -> None:
    await pool.execute(
        """
        INSERT INTO treasury_payments (payment_id, contract_no, payee_account_no, amount, paid_on, status,
                                       application_id, raw_body)
        VALUES ($1, $2, '6222020000000001', $3, $4, $5, $6, '\\x7b7d')
        ON CONFLICT (payment_id) DO UPDATE SET duplicates = treasury_payments.duplicates + 1
        """,
        payment_id,
        contract_no,
        Decimal(amount),
        date(2026, 11, 30),
        status,
        None if status == "unmatched" else "app-total",  # a loan's payment names its application
    )


async def test_every_status_counts_and_each_payment_once(db_pool: asyncpg.Pool) -> None:
    inbox = PaymentInbox(db_pool)
    contract = "WX-TOTAL-0001"
    assert await inbox.recorded_total(contract) == Decimal("0.00")
    for n, status in enumerate(("accepted", "unmatched", "misdirected")):
        await recorded(db_pool, f"T-TOTAL-{n}", contract, f"{100 + n}.01", status)
    # the same payment told again, concurrently, with another amount: still once, first copy
    await asyncio.gather(*(recorded(db_pool, "T-TOTAL-0", contract, "999999.00", "accepted") for _ in range(4)))
    # another contract's payment does not count here
    await recorded(db_pool, "T-TOTAL-OTHER", "WX-TOTAL-0002", "5.00", "unmatched")

    total = await inbox.recorded_total(contract)
    assert total == Decimal("100.01") + Decimal("101.01") + Decimal("102.01")
    assert str(total) == "303.03"  # exact to the fen, never a float
    assert await inbox.recorded_total("WX-TOTAL-0002") == Decimal("5.00")
