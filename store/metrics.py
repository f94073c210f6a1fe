"""What the API's `/metrics` reads from PostgreSQL at scrape time: applications per stage,
the stuck ones per stage (the condition of GET /v1/ops/stuck), and the inbox messages
recorded but not yet delivered to their workflows (what redelivery sends again).

Two aggregate queries on one connection, each served by an existing index or a small table:
cheap enough for a scrape every few seconds."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import asyncpg

from domain.stages import Stage
from store.applications import ACTIVE_STAGE_VALUES, STUCK_CONDITION
from store.payments import UNDELIVERED_ACCOUNT_CHANGES, UNDELIVERED_PAYMENTS

INBOXES = ("treasury_payments", "account_changes")


@dataclass(frozen=True)
class Undelivered:
    count: int
    oldest_age_seconds: float  # 0 when there is none


@dataclass(frozen=True)
class OperationalGauges:
    applications: dict[str, int]  # every stage, zero included
    stuck: dict[str, int]  # every stage, zero included
    undelivered: dict[str, Undelivered]  # per inbox (INBOXES)


async def read_gauges(pool: asyncpg.Pool, now: datetime) -> OperationalGauges:
    async with pool.acquire() as connection:
        stages = await connection.fetch(
            f"""
            SELECT stage, count(*) AS total, count(*) FILTER (WHERE {STUCK_CONDITION}) AS stuck
              FROM applications
             GROUP BY stage
            """,
            ACTIVE_STAGE_VALUES,
            now,
        )
        inboxes = await connection.fetch(
            f"""
            SELECT 'treasury_payments' AS inbox, count(*) AS n, min(received_at) AS oldest
              FROM treasury_payments WHERE {UNDELIVERED_PAYMENTS}
            UNION ALL
            SELECT 'account_changes', count(*), min(received_at)
              FROM account_change_events WHERE {UNDELIVERED_ACCOUNT_CHANGES}
            """
        )
    applications = {stage.value: 0 for stage in Stage}
    stuck = {stage.value: 0 for stage in Stage}  # an ended financing may keep a message for a person
    for row in stages:
        applications[row["stage"]] = row["total"]
        if row["stage"] in stuck:
            stuck[row["stage"]] = row["stuck"]
    undelivered = {
        row["inbox"]: Undelivered(
            count=row["n"],
            oldest_age_seconds=max(0.0, (now - row["oldest"]).total_seconds()) if row["oldest"] else 0.0,
        )
        for row in inboxes
    }
    return OperationalGauges(applications=applications, stuck=stuck, undelivered=undelivered)
