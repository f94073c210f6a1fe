"""Every posting balanced, each booked once, totals that reconcile."""

from __future__ import annotations

import asyncio
from datetime import date
from decimal import Decimal

import asyncpg
import pytest

from domain.money import ZERO
from domain.repayment import (
    Accrual,
    Allocation,
    LoanBalance,
    LoanTerms,
    allocate,
    allocate_recovery,
    apply_allocation,
    open_balance,
)
from store.ledger import Account, LedgerConflict, LedgerRepository

D = Decimal


def _allocation(amount: str, penalty: str = "0", interest: str = "0", principal: str = "0", surplus: str = "0"):
    return Allocation(
        amount=D(amount),
        penalty=D(penalty),
        interest=D(interest),
        principal=D(principal),
        surplus=D(surplus),
        accrual=Accrual(interest=ZERO, penalty=ZERO, accrued_until=date(2027, 1, 1)),
    )


async def _assert_balanced(ledger: LedgerRepository, application_id: str) -> None:
    assert sum((await ledger.trial_balance(application_id)).values(), ZERO) == ZERO
    assert sum((await ledger.trial_balance()).values(), ZERO) == ZERO


async def test_disbursement_is_balanced_and_booked_once(db_pool: asyncpg.Pool) -> None:
    ledger = LedgerRepository(db_pool)
    await ledger.post_disbursement("app-1", "ICBC", D("700000.00"), "zcd:app-1:disburse")
    await ledger.post_disbursement("app-1", "ICBC", D("700000.00"), "zcd:app-1:disburse")  # a retried activity
    await asyncio.gather(
        *(ledger.post_disbursement("app-1", "ICBC", D("700000.00"), "zcd:app-1:disburse") for _ in range(5))
    )
    totals = await ledger.balances("app-1")
    assert totals.postings == 1
    assert totals.disbursed == totals.loan_receivable == totals.outstanding_principal == D("700000.00")
    trial = await ledger.trial_balance("app-1")
    assert trial[Account.LOAN_RECEIVABLE] == D("700000.00") and trial[Account.SUPPLIER_COLLECTION] == D("-700000.00")
    await _assert_balanced(ledger, "app-1")


async def test_a_reused_key_or_a_second_disbursement_with_other_content_is_refused(db_pool: asyncpg.Pool) -> None:
    ledger = LedgerRepository(db_pool)
    await ledger.post_disbursement("app-2", "ICBC", D("100.00"), "k-2")
    with pytest.raises(LedgerConflict, match="already used"):
        await ledger.post_disbursement("app-2", "ICBC", D("200.00"), "k-2")
    with pytest.raises(LedgerConflict, match="already booked"):
        await ledger.post_disbursement("app-2", "ICBC", D("200.00"), "another-key")
    await ledger.post_disbursement("app-2", "ICBC", D("100.00"), "another-key")  # the same money: a no-op
    assert (await ledger.balances("app-2")).postings == 1


async def test_repayments_follow_the_allocation(db_pool: asyncpg.Pool) -> None:
    ledger = LedgerRepository(db_pool)
    terms = LoanTerms(
        principal=D("700000.00"),
        annual_rate=D("0.0385"),
        penalty_multiplier=D("1.5"),
        disbursed_on=date(2026, 11, 27),
        maturity_date=date(2027, 5, 26),
        grace_days=3,
    )
    await ledger.post_disbursement("app-3", "BOC", terms.principal, "k-3-d")
    balance = open_balance(terms)
    first = allocate(terms, balance, D("300000.00"), date(2027, 1, 31), overdue=False)
    balance = apply_allocation(balance, first)
    second = allocate(terms, balance, D("500000.00"), date(2027, 3, 31), overdue=False)
    balance = apply_allocation(balance, second)
    await ledger.post_repayment("app-3", "BOC", "supplier", "R-1", first, "k-3-r1")
    await ledger.post_repayment("app-3", "BOC", "treasury", "T-1", second, "k-3-t1")
    await ledger.post_repayment("app-3", "BOC", "treasury", "T-1", second, "k-3-t1")  # once

    totals = await ledger.balances("app-3")
    assert totals.postings == 3
    assert totals.received == D("800000.00")
    assert totals.interest_paid == balance.interest_paid > 0
    assert totals.principal_repaid == balance.principal_repaid == D("700000.00")
    assert totals.surplus_released == balance.surplus_released > 0
    assert totals.outstanding_principal == totals.loan_receivable == ZERO
    assert totals.received == totals.interest_paid + totals.principal_repaid + totals.surplus_released
    await _assert_balanced(ledger, "app-3")


async def test_write_off_and_recovery(fresh_db_pool: asyncpg.Pool) -> None:
    ledger = LedgerRepository(fresh_db_pool)
    await ledger.post_disbursement("app-4", "WRCB", D("100000.00"), "k-4-d")
    await ledger.post_repayment(
        "app-4", "WRCB", "supplier", "R-4", _allocation("10000.00", interest="1000.00", principal="9000.00"), "k-4-r"
    )
    await ledger.post_write_off("app-4", "WRCB", D("91000.00"), D("500.00"), D("120.00"), "k-4-w")
    after_write_off = await ledger.balances("app-4")
    assert after_write_off.loan_receivable == ZERO  # off the book
    assert after_write_off.outstanding_principal == D("91000.00")  # still owed by the supplier
    assert after_write_off.written_off == D("91620.00") and after_write_off.written_off_principal == D("91000.00")

    # a treasury payment after write-off is a recovery: penalty, interest, principal, then surplus
    claim = LoanBalance(
        outstanding_principal=D("91000.00"),
        accrued_until=date(2027, 6, 1),
        interest_due=D("500.00"),
        penalty_due=D("120.00"),
    )
    recovery = allocate_recovery(claim, D("50000.00"))
    await ledger.post_repayment("app-4", "WRCB", "recovery", "T-4", recovery, "k-4-rec")
    totals = await ledger.balances("app-4")
    assert totals.recovered == D("50000.00")
    assert totals.penalty_paid == D("120.00") and totals.interest_paid == D("1500.00")
    assert totals.outstanding_principal == D("91000.00") - recovery.principal
    trial = await ledger.trial_balance("app-4")
    assert trial[Account.WRITE_OFF] == D("91620.00") - D("50000.00")  # what is still unrecovered
    assert trial[Account.CLAIM_IN_SUSPENSE] == ZERO  # the interest and penalty written off came back
    await _assert_balanced(ledger, "app-4")
    assert (await ledger.totals()).written_off == D("91620.00")
    assert (await ledger.totals("WRCB")).postings == 4
    assert (await ledger.totals("ICBC")).postings == 0


async def test_bad_amounts_are_refused_before_the_database(db_pool: asyncpg.Pool) -> None:
    ledger = LedgerRepository(db_pool)
    with pytest.raises(ValueError):
        await ledger.post_disbursement("app-5", "ICBC", D("0.00"), "k")
    with pytest.raises(ValueError):
        await ledger.post_repayment("app-5", "ICBC", "supplier", "R", _allocation("10.00", interest="3.00"), "k")
    with pytest.raises(ValueError):
        await ledger.post_write_off("app-5", "ICBC", ZERO, ZERO, ZERO, "k")


async def test_the_database_refuses_an_unbalanced_posting(db_pool: asyncpg.Pool) -> None:
    async with db_pool.acquire() as connection:
        with pytest.raises(asyncpg.CheckViolationError, match="not balanced"):
            async with connection.transaction():
                posting = await connection.fetchval(
                    """
                    INSERT INTO ledger_postings (idempotency_key, kind, application_id, bank_code, fingerprint)
                    VALUES ('raw', 'disbursement', 'app-6', 'ICBC', 'x') RETURNING posting_id
                    """
                )
                await connection.execute(
                    """
                    INSERT INTO ledger_entries (posting_id, account, leg, bank_code, application_id, debit)
                    VALUES ($1, 'loan_receivable', 'disbursed', 'ICBC', 'app-6', 100)
                    """,
                    posting,
                )
    assert await db_pool.fetchval("SELECT count(*) FROM ledger_postings WHERE application_id = 'app-6'") == 0


async def test_the_ledger_is_append_only(db_pool: asyncpg.Pool) -> None:
    ledger = LedgerRepository(db_pool)
    await ledger.post_disbursement("app-7", "ICBC", D("100.00"), "k-7")
    with pytest.raises(asyncpg.InsufficientPrivilegeError, match="append-only"):
        await db_pool.execute("UPDATE ledger_entries SET debit = 1 WHERE debit > 0")
    with pytest.raises(asyncpg.InsufficientPrivilegeError):
        await db_pool.execute("DELETE FROM ledger_postings")
    with pytest.raises(asyncpg.InsufficientPrivilegeError):
        await db_pool.execute("TRUNCATE ledger_entries, ledger_postings")
    entries = await ledger.entries("app-7")
    assert [(e.account, e.debit, e.credit) for e in entries] == [
        (Account.LOAN_RECEIVABLE, D("100.00"), ZERO),
        (Account.SUPPLIER_COLLECTION, ZERO, D("100.00")),
    ]
