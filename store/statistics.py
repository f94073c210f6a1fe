"""The finance bureau's figures from the applications read model (API.md "Operations and
oversight" and v1.1 "The finance bureau"): `/v1/stats` all time or over a period, by month,
the stage funnel, the overdue book and the days from submission to disbursement.

Every figure is read from the records the workflows wrote, so it reads what really happened
and when: a credit is granted when the application leaves the bank's review approved (the
first stage its timeline enters after `bank_review`), a loan is paid out on `disbursed_on`,
principal comes back with each applied repayment (`messages[].applied_at`, its `principal`),
a loan leaves the book when its timeline enters `written_off`. Dates are business dates
(Asia/Shanghai, +08:00, which keeps no daylight saving).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import asyncpg

from domain.stages import Stage
from domain.statistics import (
    Period,
    disbursement_working_days,
    month_key,
    next_month,
    summarize_days,
)
from domain.working_days import WorkingCalendar
from store.db import Connection

_ZERO_MONEY = "0::numeric(18, 2)"


def _business_date(instant_sql: str) -> str:
    """The business date of a timestamptz expression (+08:00; no time zone database needed)."""
    return f"(({instant_sql}) AT TIME ZONE 'UTC' + interval '8 hours')::date"


# The dated facts of each application, from its record. $1, $2: the instants a period starts and
# ends (for the principal repaid by its end), in every query that selects from it.
_FACTS = """
    facts AS (
        SELECT a.application_id, a.bank_code, a.district, a.supplier_credit_code, a.stage,
               a.approved_amount, a.disbursed_on, a.disbursed_amount, a.submitted_at,
               CASE WHEN a.approved_amount IS NOT NULL THEN coalesce(
                   (SELECT min((t->>'at')::timestamptz) FROM jsonb_array_elements(a.view->'timeline') t
                     WHERE t->>'note' IS NULL AND t->>'stage' NOT IN ('verifying', 'bank_review')),
                   a.stage_since) END AS approved_at,
               (SELECT min((t->>'at')::timestamptz) FROM jsonb_array_elements(a.view->'timeline') t
                 WHERE t->>'note' IS NULL AND t->>'stage' = 'written_off') AS written_off_at,
               (SELECT coalesce(sum((m->>'principal')::numeric), 0) FROM jsonb_array_elements(a.view->'messages') m
                 WHERE m->>'outcome' = 'applied' AND m->>'principal' IS NOT NULL
                   AND m->>'applied_as' IS DISTINCT FROM 'recovery'
                   AND (m->>'applied_at')::timestamptz < $2) AS principal_repaid_by_end
          FROM applications a
    )
"""

# Sums over `facts a` for a period: $1/$2 its instants, $3/$4 its first and last business dates.
# Outstanding: principal owed at the end of the period on loans paid out by then and not written
# off before it (a written-off loan's principal has left the book, as in the ledger).
_PERIOD_SUMS = f"""
    coalesce(sum(a.approved_amount) FILTER (WHERE a.approved_at >= $1 AND a.approved_at < $2),
             {_ZERO_MONEY})::numeric(18, 2) AS credit_granted,
    coalesce(sum(a.disbursed_amount) FILTER (WHERE a.disbursed_on BETWEEN $3 AND $4),
             {_ZERO_MONEY})::numeric(18, 2) AS financing_disbursed,
    coalesce(sum(a.disbursed_amount - a.principal_repaid_by_end)
                 FILTER (WHERE a.disbursed_on <= $4 AND (a.written_off_at IS NULL OR a.written_off_at >= $2)),
             {_ZERO_MONEY})::numeric(18, 2) AS outstanding,
    count(a.application_id) FILTER (WHERE a.disbursed_on BETWEEN $3 AND $4) AS loans
"""

# The same sums over all time, from the record's current columns.
_ALL_TIME_SUMS = f"""
    coalesce(sum(approved_amount), {_ZERO_MONEY}) AS credit_granted,
    coalesce(sum(disbursed_amount), {_ZERO_MONEY}) AS financing_disbursed,
    coalesce(sum(outstanding_principal) FILTER (WHERE disbursed_on IS NOT NULL AND stage <> 'written_off'),
             {_ZERO_MONEY}) AS outstanding,
    count(disbursed_on) AS loans
"""

_DISTRICT_NAMES = """
    names AS (
        SELECT name, sort_order FROM districts
        UNION
        SELECT DISTINCT district, 1000000 FROM applications
         WHERE district IS NOT NULL AND district NOT IN (SELECT name FROM districts)
    )
"""


@dataclass(frozen=True)
class _Query:
    """Where the figures come from: the records themselves (all time) or their dated facts."""

    source: str  # a FROM item named `a`
    with_: str  # the WITH clause it needs ("" for none)
    sums: str
    args: tuple[Any, ...]


def _query(period: Period | None) -> _Query:
    if period is None:
        return _Query("applications a", "", _ALL_TIME_SUMS, ())
    args = (period.starts_at, period.ends_at, period.first, period.last)
    return _Query("facts a", f"WITH {_FACTS}", _PERIOD_SUMS, args)


def _breakdown(row: asyncpg.Record, *keys: str) -> dict[str, Any]:
    money: dict[str, Decimal] = {
        "credit_granted": row["credit_granted"],
        "financing_disbursed": row["financing_disbursed"],
        "outstanding": row["outstanding"],
    }
    return {**{key: row[key] for key in keys}, **money, "loans": row["loans"]}


class StatisticsRepository:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def figures(self, period: Period | None, calendar: WorkingCalendar) -> dict[str, Any]:
        """GET /v1/stats, with Decimal money — all time (`period` None) or over a period:

        - credit_granted: amounts approved (授信), whatever happened afterwards — in a period,
          those approved on its days;
        - financing_disbursed: amounts disbursed (in a period: paid out on its days);
        - outstanding: principal still owed on loans on the book (in a period: at its end);
        - smes_served: distinct suppliers with a disbursed loan (in a period: paid out in it);
        - applications: a count for every stage, zero included (in a period: of the
          applications submitted in it, by the stage each is in now);
        - by_bank: every seeded bank, in seeded order; by_district: every seeded district,
          then any other district seen on an application. `loans` counts disbursed loans;
        - disbursement_days: working days from submission to disbursement of the loans
          disbursed (in the period), null when there are none.
        """
        q = _query(period)
        async with self._pool.acquire() as connection, connection.transaction(isolation="repeatable_read"):
            # One snapshot for every query, so the totals agree with the breakdowns.
            totals = await connection.fetchrow(
                f"""
                {q.with_}
                SELECT {q.sums},
                       count(DISTINCT a.supplier_credit_code) FILTER (WHERE {_disbursed_in(period)}) AS smes_served
                  FROM {q.source}
                """,
                *q.args,
            )
            counts = await connection.fetch(
                "SELECT stage, count(*) AS n FROM applications"
                + (" WHERE submitted_at >= $1 AND submitted_at < $2" if period else "")
                + " GROUP BY stage",
                *((period.starts_at, period.ends_at) if period else ()),
            )
            by_bank = await connection.fetch(
                f"""
                {q.with_}
                SELECT b.bank_code, b.name AS bank_name, {q.sums}
                  FROM banks b LEFT JOIN {q.source} ON a.bank_code = b.bank_code
                 GROUP BY b.bank_code, b.name, b.sort_order
                 ORDER BY b.sort_order, b.bank_code
                """,
                *q.args,
            )
            with_names = f"{q.with_}, {_DISTRICT_NAMES}" if q.with_ else f"WITH {_DISTRICT_NAMES}"
            by_district = await connection.fetch(
                f"""
                {with_names}
                SELECT n.name AS district, {q.sums}
                  FROM names n LEFT JOIN {q.source} ON a.district = n.name
                 GROUP BY n.name, n.sort_order
                 ORDER BY n.sort_order, n.name
                """,
                *q.args,
            )
            days = await _disbursement_days(connection, period, calendar)
        assert totals is not None  # an aggregate always yields a row
        stage_counts = {stage.value: 0 for stage in Stage}
        stage_counts.update({row["stage"]: row["n"] for row in counts})
        summary = summarize_days(days)
        return {
            "credit_granted": totals["credit_granted"],
            "financing_disbursed": totals["financing_disbursed"],
            "outstanding": totals["outstanding"],
            "smes_served": totals["smes_served"],
            "applications": stage_counts,
            "by_bank": [_breakdown(row, "bank_code", "bank_name") for row in by_bank],
            "by_district": [_breakdown(row, "district") for row in by_district],
            "disbursement_days": summary.model_dump() if summary else None,
        }

    async def disbursement_days(self, period: Period | None, calendar: WorkingCalendar) -> list[int]:
        """The working days each loan disbursed (in the period) took from its submission."""
        async with self._pool.acquire() as connection:
            return await _disbursement_days(connection, period, calendar)

    async def monthly(self, first: date, last: date) -> list[dict[str, Any]]:
        """GET /v1/stats/monthly: one item per month from `first`'s to `last`'s (first days of
        months), empty months included. `repaid` is the principal repaid in the month (treasury
        payments and the suppliers' own; a recovery after a write-off is not repaid principal);
        `loans` and `smes_served` count the loans paid out in the month and their suppliers."""
        starts_at = Period(first, first).starts_at
        ends_at = Period(next_month(last), next_month(last)).starts_at
        args = (starts_at, ends_at)
        month_of_approval = f"to_char({_business_date('a.approved_at')}, 'YYYY-MM')"
        async with self._pool.acquire() as connection, connection.transaction(isolation="repeatable_read"):
            granted = await connection.fetch(
                f"""
                WITH {_FACTS}
                SELECT {month_of_approval} AS month, sum(a.approved_amount)::numeric(18, 2) AS amount
                  FROM facts a
                 WHERE a.approved_at >= $1 AND a.approved_at < $2
                 GROUP BY 1
                """,
                *args,
            )
            paid_out = await connection.fetch(
                """
                SELECT to_char(disbursed_on, 'YYYY-MM') AS month, sum(disbursed_amount)::numeric(18, 2) AS amount,
                       count(*) AS loans, count(DISTINCT supplier_credit_code) AS smes
                  FROM applications
                 WHERE disbursed_on >= $1 AND disbursed_on < $2
                 GROUP BY 1
                """,
                first,
                next_month(last),
            )
            applied_at = "(m->>'applied_at')::timestamptz"
            repaid = await connection.fetch(
                f"""
                SELECT to_char({_business_date(applied_at)}, 'YYYY-MM') AS month,
                       sum((m->>'principal')::numeric)::numeric(18, 2) AS amount
                  FROM applications a, jsonb_array_elements(a.view->'messages') m
                 WHERE m->>'outcome' = 'applied' AND m->>'principal' IS NOT NULL
                   AND m->>'applied_as' IS DISTINCT FROM 'recovery'
                   AND {applied_at} >= $1 AND {applied_at} < $2
                 GROUP BY 1
                """,
                *args,
            )
        zero = Decimal("0.00")
        granted_by = {row["month"]: row["amount"] for row in granted}
        paid_by = {row["month"]: row for row in paid_out}
        repaid_by = {row["month"]: row["amount"] for row in repaid}
        items: list[dict[str, Any]] = []
        month = first
        while month <= last:
            key = month_key(month)
            paid = paid_by.get(key)
            items.append(
                {
                    "month": key,
                    "credit_granted": granted_by.get(key, zero),
                    "financing_disbursed": paid["amount"] if paid else zero,
                    "repaid": repaid_by.get(key, zero),
                    "loans": paid["loans"] if paid else 0,
                    "smes_served": paid["smes"] if paid else 0,
                }
            )
            month = next_month(month)
        return items

    async def funnel(self, period: Period | None) -> list[tuple[str, int]]:
        """How many applications (submitted in the period) reached each step of the process, in
        order: submitted, handed to the bank's review, approved, account locked (the payout
        started), disbursed, settled."""
        where = "WHERE submitted_at >= $1 AND submitted_at < $2" if period else ""
        args = (period.starts_at, period.ends_at) if period else ()
        row = await self._pool.fetchrow(
            f"""
            SELECT count(*) AS submitted,
                   count(*) FILTER (WHERE view->'timeline' @> '[{{"stage": "bank_review"}}]') AS reviewed,
                   count(*) FILTER (WHERE approved_amount IS NOT NULL) AS approved,
                   count(*) FILTER (WHERE view->'timeline' @> '[{{"stage": "disbursing"}}]'
                                       OR disbursed_on IS NOT NULL) AS locked,
                   count(*) FILTER (WHERE disbursed_on IS NOT NULL) AS disbursed,
                   count(*) FILTER (WHERE stage = 'settled') AS settled
              FROM applications {where}
            """,
            *args,
        )
        assert row is not None
        return [(step, row[step]) for step in ("submitted", "reviewed", "approved", "locked", "disbursed", "settled")]

    async def overdue_book(self) -> list[dict[str, Any]]:
        """The loans overdue now, longest overdue first: what is owed and since when."""
        rows = await self._pool.fetch(
            """
            SELECT a.application_id, a.contract_no, a.bank_code, b.name AS bank_name, a.district,
                   a.view->>'supplier_name' AS supplier_name, a.disbursed_amount, a.outstanding_principal,
                   (a.view->>'maturity_date')::date AS maturity_date,
                   coalesce((a.view->>'penalty_due')::numeric, 0)::numeric(18, 2) AS penalty_due,
                   coalesce((a.view->>'interest_due')::numeric, 0)::numeric(18, 2) AS interest_due,
                   a.stage_since
              FROM applications a JOIN banks b ON b.bank_code = a.bank_code
             WHERE a.stage = 'overdue'
             ORDER BY (a.view->>'maturity_date')::date, a.application_id
            """
        )
        return [dict(row) for row in rows]


def _disbursed_in(period: Period | None) -> str:
    return "a.disbursed_on BETWEEN $3 AND $4" if period else "a.disbursed_on IS NOT NULL"


async def _disbursement_days(connection: Connection, period: Period | None, calendar: WorkingCalendar) -> list[int]:
    rows = await connection.fetch(
        "SELECT submitted_at, disbursed_on FROM applications WHERE disbursed_on IS NOT NULL"
        + (" AND disbursed_on BETWEEN $1 AND $2" if period else ""),
        *((period.first, period.last) if period else ()),
    )
    loans: list[tuple[datetime, date]] = [(row["submitted_at"], row["disbursed_on"]) for row in rows]
    return disbursement_working_days(calendar, loans)
