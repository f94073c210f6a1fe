"""What every record says after a chaos run, gathered once, for the checks to compare.

Four independent records: the platform's public answers (application views, the ops lists,
`/v1/stats`), the simulated bank and treasury (what was paid out, captured and paid), the
platform's own PostgreSQL (ledger and inboxes — read-only, the harness's own database), and
every process log.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import asyncpg
import httpx

from domain.money import ZERO
from tests.chaos.outside_world import World
from tests.chaos.scenarios import LoanPlan

ALLOCATION_LEGS = ("penalty", "interest", "principal", "surplus")


@dataclass
class Posting:
    """One ledger posting, as amounts per leg (debits for received/disbursed, credits else)."""

    posting_id: int
    kind: str
    application_id: str
    source: str | None
    source_id: str | None
    legs: dict[str, Decimal] = field(default_factory=lambda: defaultdict(lambda: ZERO))


@dataclass
class Evidence:
    views: dict[str, dict[str, Any]]  # application id -> the ops view
    applications_by_contract: dict[str, list[str]]
    disbursements: dict[str, list[dict[str, Any]]]  # contract -> the bank's payouts
    bank_repayments: dict[str, list[dict[str, Any]]]  # application id -> captured, in order
    treasury_payments: dict[str, dict[str, Any]]  # payment id -> what the treasury paid
    kept_for_ops: dict[str, dict[str, Any]]  # payment id -> GET /v1/ops/payments item
    stats_before: dict[str, Any]
    stats_after: dict[str, Any]
    postings: list[Posting]
    inbox_payments: dict[str, dict[str, Any]]
    inbox_events: dict[str, dict[str, Any]]
    logs: dict[str, str]


async def stats(world: World) -> dict[str, Any]:
    answer = await world.request("GET", f"{world.api}/v1/stats", headers=world.ops_headers, what="GET /v1/stats")
    answer.raise_for_status()
    body: dict[str, Any] = answer.json()
    return body


async def _pages(world: World, path: str, params: dict[str, str]) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    cursor: str | None = None
    while True:
        query = {**params, "limit": "200", **({"cursor": cursor} if cursor else {})}
        answer = await world.request("GET", f"{world.api}{path}", headers=world.ops_headers, params=query)
        answer.raise_for_status()
        page = answer.json()
        items += page["items"]
        cursor = page.get("next_cursor")
        if not cursor:
            return items


async def _sim_items(http: httpx.AsyncClient, url: str) -> list[dict[str, Any]]:
    answer = await http.get(url)
    answer.raise_for_status()
    items: list[dict[str, Any]] = answer.json()["items"]
    return items


async def gather(
    world: World, plans: list[LoanPlan], database_url: str, logs: Path, stats_before: dict[str, Any]
) -> Evidence:
    by_contract: dict[str, list[str]] = {}
    views: dict[str, dict[str, Any]] = {}
    for plan in plans:
        found = await _pages(world, "/v1/applications", {"contract_no": plan.contract_no})
        by_contract[plan.contract_no] = [item["application_id"] for item in found]
        for app_id in by_contract[plan.contract_no]:
            answer = await world.request("GET", f"{world.api}/v1/applications/{app_id}", headers=world.ops_headers)
            answer.raise_for_status()
            views[app_id] = answer.json()
    kept = {}
    for status in ("unmatched", "misdirected"):
        for item in await _pages(world, "/v1/ops/payments", {"status": status}):
            kept[item["payment_id"]] = item
    http = world.http
    disbursements: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for item in await _sim_items(http, f"{world.sim('bank')}/sim/disbursements"):
        disbursements[item["contract_no"]].append(item)
    repayments: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for item in await _sim_items(http, f"{world.sim('bank')}/sim/repayments"):
        repayments[item["application_id"]].append(item)
    paid = {p["payment_id"]: p for p in await _sim_items(http, f"{world.sim('treasury')}/sim/payments")}
    postings, inbox_payments, inbox_events = await _database(database_url)
    return Evidence(
        views=views,
        applications_by_contract=by_contract,
        disbursements=dict(disbursements),
        bank_repayments=dict(repayments),
        treasury_payments=paid,
        kept_for_ops=kept,
        stats_before=stats_before,
        stats_after=await stats(world),
        postings=postings,
        inbox_payments=inbox_payments,
        inbox_events=inbox_events,
        logs=await asyncio.to_thread(read_logs, logs),
    )


def read_logs(directory: Path) -> dict[str, str]:
    return {path.name: path.read_text(errors="replace") for path in sorted(directory.glob("*.log"))}


async def _database(
    url: str,
) -> tuple[list[Posting], dict[str, dict[str, Any]], dict[str, dict[str, Any]]]:
    connection = await asyncpg.connect(url)
    try:
        rows = await connection.fetch(
            """
            SELECT p.posting_id, p.kind, p.application_id, p.source, p.source_id, e.leg, e.debit, e.credit
              FROM ledger_postings p JOIN ledger_entries e USING (posting_id)
             ORDER BY p.posting_id, e.entry_id
            """
        )
        postings: dict[int, Posting] = {}
        for row in rows:
            posting = postings.setdefault(
                row["posting_id"],
                Posting(row["posting_id"], row["kind"], row["application_id"], row["source"], row["source_id"]),
            )
            # the money of a leg is on its own side: what came in or went out is debited, the
            # allocation of it credited; the counter-entries would only double it
            if row["leg"] in ("received", "disbursed"):
                posting.legs[row["leg"]] += row["debit"]
            else:
                posting.legs[row["leg"]] += row["credit"]
        payments = await connection.fetch(
            "SELECT payment_id, status, application_id, amount, delivered_at FROM treasury_payments"
        )
        events = await connection.fetch(
            "SELECT event_id, status, application_id, decision, delivered_at FROM account_change_events"
        )
    finally:
        await connection.close()
    return (
        list(postings.values()),
        {row["payment_id"]: dict(row) for row in payments},
        {row["event_id"]: dict(row) for row in events},
    )
