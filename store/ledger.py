"""The double-entry ledger: every money movement of every financing, balanced and booked once.

See `migrations/004_ledger.sql` for the accounts. The postings made here:

disbursement (amount A)
    Dr loan_receivable A                    Cr supplier_collection A
repayment (amount X = penalty p + interest i + principal r + surplus s), from the treasury or
the supplier
    Dr repayments_received X                Cr penalty_income p, interest_income i,
                                               loan_receivable r, supplier_surplus s
recovery (a repayment after write-off): the principal leg credits write_off instead of
loan_receivable (the principal left the book at write-off), and the interest and penalty
recovered come out of suspense:
    Dr repayments_received X                Cr penalty_income p, interest_income i,
                                               write_off r, supplier_surplus s
    Dr claim_in_suspense p + i              Cr write_off p + i
write-off (principal P, interest I, penalty N still owed)
    Dr write_off P + I + N                  Cr loan_receivable P, claim_in_suspense I + N

Zero legs are left out. Every posting carries an idempotency key: posting again with the
same key and the same content is a no-op; the same key with other content is refused
(`LedgerConflict`), as is booking the same money (application, source, source id) twice.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import Literal

import asyncpg
from pydantic import BaseModel

from domain.money import ZERO, Money
from domain.repayment import Allocation
from store.db import Connection, canonical_json

RepaymentSource = Literal["treasury", "supplier", "recovery"]


class Account(StrEnum):
    LOAN_RECEIVABLE = "loan_receivable"
    SUPPLIER_COLLECTION = "supplier_collection"
    REPAYMENTS_RECEIVED = "repayments_received"
    INTEREST_INCOME = "interest_income"
    PENALTY_INCOME = "penalty_income"
    SUPPLIER_SURPLUS = "supplier_surplus"
    WRITE_OFF = "write_off"
    CLAIM_IN_SUSPENSE = "claim_in_suspense"


class Leg(StrEnum):
    """What the money of an entry is, whichever account it is booked to."""

    DISBURSED = "disbursed"
    RECEIVED = "received"
    PENALTY = "penalty"
    INTEREST = "interest"
    PRINCIPAL = "principal"
    SURPLUS = "surplus"
    CLAIM_RECOVERED = "claim_recovered"


class LedgerConflict(Exception):
    """An idempotency key (or the same money) already booked with different content."""


@dataclass(frozen=True)
class _Entry:
    account: Account
    leg: Leg
    debit: Decimal = ZERO
    credit: Decimal = ZERO


class LedgerEntry(BaseModel):
    posting_id: int
    kind: str
    source: str | None
    source_id: str | None
    account: Account
    leg: Leg
    bank_code: str
    debit: Money
    credit: Money


class LedgerTotals(BaseModel):
    """Balances of one application, one bank or the whole book, for reconciliation.

    principal_repaid, interest_paid, penalty_paid and surplus_released include recoveries,
    as the application's view does; outstanding_principal = disbursed − principal_repaid is
    what the supplier still owes, written off or not, and loan_receivable what is still on
    the bank's book (zero once written off).
    """

    disbursed: Money = ZERO
    received: Money = ZERO
    principal_repaid: Money = ZERO
    interest_paid: Money = ZERO
    penalty_paid: Money = ZERO
    surplus_released: Money = ZERO
    written_off: Money = ZERO  # principal + interest + penalty written off
    written_off_principal: Money = ZERO
    recovered: Money = ZERO  # amounts received after write-off
    outstanding_principal: Money = ZERO
    loan_receivable: Money = ZERO
    postings: int = 0


def _positive(name: str, amount: Decimal) -> None:
    if amount < 0:
        raise ValueError(f"{name} must not be negative")


class LedgerRepository:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def post_disbursement(self, application_id: str, bank_code: str, amount: Decimal, key: str) -> None:
        """The loan paid out to the supplier's collection account."""
        if amount <= 0:
            raise ValueError("a disbursement must be a positive amount")
        await self._post(
            key,
            "disbursement",
            application_id,
            bank_code,
            None,
            None,
            [
                _Entry(Account.LOAN_RECEIVABLE, Leg.DISBURSED, debit=amount),
                _Entry(Account.SUPPLIER_COLLECTION, Leg.DISBURSED, credit=amount),
            ],
        )

    async def post_repayment(
        self,
        application_id: str,
        bank_code: str,
        source: RepaymentSource,
        source_id: str,
        allocation: Allocation,
        key: str,
    ) -> None:
        """An amount received (treasury payment, supplier repayment or recovery), split as
        `allocation` says: penalty, interest, principal and the surplus released."""
        legs = (allocation.penalty, allocation.interest, allocation.principal, allocation.surplus)
        for name, amount in zip(("penalty", "interest", "principal", "surplus"), legs, strict=True):
            _positive(name, amount)
        if allocation.amount <= 0 or sum(legs, ZERO) != allocation.amount:
            raise ValueError("an allocation's parts must add up to its positive amount")
        recovery = source == "recovery"
        entries = [
            _Entry(Account.REPAYMENTS_RECEIVED, Leg.RECEIVED, debit=allocation.amount),
            _Entry(Account.PENALTY_INCOME, Leg.PENALTY, credit=allocation.penalty),
            _Entry(Account.INTEREST_INCOME, Leg.INTEREST, credit=allocation.interest),
            _Entry(
                Account.WRITE_OFF if recovery else Account.LOAN_RECEIVABLE,
                Leg.PRINCIPAL,
                credit=allocation.principal,
            ),
            _Entry(Account.SUPPLIER_SURPLUS, Leg.SURPLUS, credit=allocation.surplus),
        ]
        if recovery:
            claim = allocation.penalty + allocation.interest
            entries += [
                _Entry(Account.CLAIM_IN_SUSPENSE, Leg.CLAIM_RECOVERED, debit=claim),
                _Entry(Account.WRITE_OFF, Leg.CLAIM_RECOVERED, credit=claim),
            ]
        await self._post(key, "repayment", application_id, bank_code, source, source_id, entries)

    async def post_write_off(
        self,
        application_id: str,
        bank_code: str,
        principal: Decimal,
        interest: Decimal,
        penalty: Decimal,
        key: str,
    ) -> None:
        """The bank writes off what is still owed: the principal leaves the book, the unpaid
        interest and penalty (never booked as income) are held in suspense."""
        for name, amount in (("principal", principal), ("interest", interest), ("penalty", penalty)):
            _positive(name, amount)
        if principal + interest + penalty <= 0:
            raise ValueError("a write-off must write off something")
        await self._post(
            key,
            "write_off",
            application_id,
            bank_code,
            None,
            None,
            [
                _Entry(Account.WRITE_OFF, Leg.PRINCIPAL, debit=principal),
                _Entry(Account.WRITE_OFF, Leg.INTEREST, debit=interest),
                _Entry(Account.WRITE_OFF, Leg.PENALTY, debit=penalty),
                _Entry(Account.LOAN_RECEIVABLE, Leg.PRINCIPAL, credit=principal),
                _Entry(Account.CLAIM_IN_SUSPENSE, Leg.INTEREST, credit=interest),
                _Entry(Account.CLAIM_IN_SUSPENSE, Leg.PENALTY, credit=penalty),
            ],
        )

    async def balances(self, application_id: str) -> LedgerTotals:
        """One application's totals."""
        return await self._totals("e.application_id = $1", application_id)

    async def totals(self, bank_code: str | None = None) -> LedgerTotals:
        """The whole book's totals, or one bank's."""
        if bank_code is not None:
            return await self._totals("e.bank_code = $1", bank_code)
        return await self._totals("true")

    async def trial_balance(self, application_id: str | None = None) -> dict[Account, Decimal]:
        """Each account's balance, debits minus credits (of one application, or the whole
        book); they sum to zero."""
        rows = await self._pool.fetch(
            """
            SELECT account, sum(debit) - sum(credit) AS balance FROM ledger_entries
             WHERE $1::text IS NULL OR application_id = $1
             GROUP BY account
            """,
            application_id,
        )
        balances = {account: ZERO for account in Account}
        balances.update({Account(row["account"]): row["balance"] for row in rows})
        return balances

    async def entries(self, application_id: str) -> list[LedgerEntry]:
        """An application's entries in booking order (for ops and reconciliation)."""
        rows = await self._pool.fetch(
            """
            SELECT e.posting_id, p.kind, p.source, p.source_id, e.account, e.leg, e.bank_code, e.debit, e.credit
              FROM ledger_entries e JOIN ledger_postings p USING (posting_id)
             WHERE e.application_id = $1
             ORDER BY e.posting_id, e.entry_id
            """,
            application_id,
        )
        return [LedgerEntry(**dict(row)) for row in rows]

    async def _totals(self, condition: str, *args: object) -> LedgerTotals:
        row = await self._pool.fetchrow(
            f"""
            SELECT
              coalesce(sum(e.debit) FILTER (WHERE p.kind = 'disbursement'), 0) AS disbursed,
              coalesce(sum(e.debit) FILTER (WHERE e.leg = 'received'), 0) AS received,
              coalesce(sum(e.credit) FILTER (WHERE p.kind = 'repayment' AND e.leg = 'principal'), 0)
                AS principal_repaid,
              coalesce(sum(e.credit) FILTER (WHERE p.kind = 'repayment' AND e.leg = 'interest'), 0) AS interest_paid,
              coalesce(sum(e.credit) FILTER (WHERE p.kind = 'repayment' AND e.leg = 'penalty'), 0) AS penalty_paid,
              coalesce(sum(e.credit) FILTER (WHERE p.kind = 'repayment' AND e.leg = 'surplus'), 0)
                AS surplus_released,
              coalesce(sum(e.debit) FILTER (WHERE p.kind = 'write_off'), 0) AS written_off,
              coalesce(sum(e.debit) FILTER (WHERE p.kind = 'write_off' AND e.leg = 'principal'), 0)
                AS written_off_principal,
              coalesce(sum(e.debit) FILTER (WHERE e.leg = 'received' AND p.source = 'recovery'), 0) AS recovered,
              coalesce(sum(e.debit - e.credit) FILTER (WHERE e.account = 'loan_receivable'), 0) AS loan_receivable,
              count(DISTINCT e.posting_id) AS postings
            FROM ledger_entries e JOIN ledger_postings p USING (posting_id)
            WHERE {condition}
            """,
            *args,
        )
        assert row is not None  # an aggregate always yields a row
        totals = dict(row)
        totals["outstanding_principal"] = totals["disbursed"] - totals["principal_repaid"]
        return LedgerTotals(**totals)

    async def _post(
        self,
        key: str,
        kind: str,
        application_id: str,
        bank_code: str,
        source: str | None,
        source_id: str | None,
        entries: list[_Entry],
    ) -> None:
        entries = [e for e in entries if e.debit > 0 or e.credit > 0]
        fingerprint = hashlib.sha256(
            canonical_json(
                {
                    "kind": kind,
                    "application_id": application_id,
                    "bank_code": bank_code,
                    "source": source,
                    "source_id": source_id,
                    "entries": [[e.account, e.leg, str(e.debit), str(e.credit)] for e in entries],
                }
            ).encode()
        ).hexdigest()
        async with self._pool.acquire() as connection, connection.transaction():
            # DO NOTHING on any unique index: the key, or the same money under another key.
            posting_id = await connection.fetchval(
                """
                INSERT INTO ledger_postings (idempotency_key, kind, application_id, bank_code, source, source_id,
                                             fingerprint)
                VALUES ($1, $2, $3, $4, $5, $6, $7)
                ON CONFLICT DO NOTHING
                RETURNING posting_id
                """,
                key,
                kind,
                application_id,
                bank_code,
                source,
                source_id,
                fingerprint,
            )
            if posting_id is None:
                await self._check_same_posting(connection, key, kind, application_id, source, source_id, fingerprint)
                return
            await connection.execute(
                """
                INSERT INTO ledger_entries (posting_id, account, leg, bank_code, application_id, debit, credit)
                SELECT $1, t.account, t.leg, $2, $3, t.debit, t.credit
                  FROM unnest($4::text[], $5::text[], $6::numeric[], $7::numeric[]) AS t(account, leg, debit, credit)
                """,
                posting_id,
                bank_code,
                application_id,
                [e.account.value for e in entries],
                [e.leg.value for e in entries],
                [e.debit for e in entries],
                [e.credit for e in entries],
            )

    @staticmethod
    async def _check_same_posting(
        connection: Connection,
        key: str,
        kind: str,
        application_id: str,
        source: str | None,
        source_id: str | None,
        fingerprint: str,
    ) -> None:
        """The posting was already there: fine if it is this one, a conflict otherwise."""
        existing = await connection.fetchrow(
            """
            SELECT idempotency_key, fingerprint FROM ledger_postings
             WHERE idempotency_key = $1
                OR (application_id = $2 AND kind = $3 AND kind IN ('disbursement', 'write_off'))
                OR (application_id = $2 AND kind = 'repayment' AND $3 = 'repayment'
                    AND source = $4 AND source_id = $5)
             ORDER BY (idempotency_key = $1) DESC
             LIMIT 1
            """,
            key,
            application_id,
            kind,
            source,
            source_id,
        )
        if existing is None:  # cannot happen: a conflict means one of these rows exists
            raise LedgerConflict(f"posting {key} conflicts with a posting that could not be found")
        if existing["fingerprint"] != fingerprint:
            if existing["idempotency_key"] == key:
                raise LedgerConflict(f"idempotency key {key} was already used for a different posting")
            raise LedgerConflict(
                f"{kind} of {application_id} was already booked under key {existing['idempotency_key']}"
            )
