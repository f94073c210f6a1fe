"""The event feed's table: appended with each record write, read in order by banks and ops."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import asyncpg
from pydantic import BaseModel

from domain.application import SHANGHAI, ApplicationView
from domain.events import NewEvent
from store.cursors import clamp_limit
from store.db import Connection

# One writer of events at a time: ids are then committed in the order they were taken, so a
# reader that polls after id N never misses an N-1 committed later.
_EVENTS_LOCK = 0x7A63645F657674  # "zcd_evt"


class Event(BaseModel):
    event_id: str
    type: str
    application_id: str
    contract_no: str
    bank_code: str
    at: datetime
    data: dict[str, Any]


async def append_events(connection: Connection, view: ApplicationView, events: list[NewEvent]) -> None:
    """Inside the record's transaction."""
    if not events:
        return
    await connection.execute("SELECT pg_advisory_xact_lock($1)", _EVENTS_LOCK)
    await connection.executemany(
        """
        INSERT INTO events (type, application_id, contract_no, bank_code, at, data)
        VALUES ($1, $2, $3, $4, $5, $6)
        """,
        [
            (e.type, view.application_id, view.contract_no, view.bank_code, e.at, e.model_dump(mode="json")["data"])
            for e in events
        ],
    )


class EventRepository:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def after(self, after_id: int, *, bank_code: str | None, limit: int = 100) -> list[Event]:
        """Events after `after_id`, oldest first; a bank's own only (`bank_code`), ops all."""
        rows = await self._pool.fetch(
            """
            SELECT event_id, type, application_id, contract_no, bank_code, at, data FROM events
             WHERE event_id > $1 AND ($2::text IS NULL OR bank_code = $2)
             ORDER BY event_id
             LIMIT $3
            """,
            after_id,
            bank_code,
            clamp_limit(limit, maximum=500),
        )
        return [
            Event(**{**dict(row), "event_id": str(row["event_id"]), "at": row["at"].astimezone(SHANGHAI)})
            for row in rows
        ]

    async def last_id(self) -> int:
        found: int | None = await self._pool.fetchval("SELECT max(event_id) FROM events")
        return found or 0
