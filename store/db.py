"""Connections to the platform's PostgreSQL: a pool whose connections speak JSON.

JSON and JSONB values are encoded from Python objects and decoded back to them, so the
repositories pass dicts and lists, not strings. Money stays exact on the way through:
`Decimal`, dates and pydantic models are written as strings, and JSON numbers with a
fraction are read back as `Decimal`, never `float`.

A connection goes back to the pool without asyncpg's reset query (`pg_advisory_unlock_all();
CLOSE ALL; UNLISTEN *; RESET ALL`), a round trip on every release: a third of the API's
statements under `make bench` (docs/performance.md). An open transaction is still rolled back
on release, as asyncpg always does. Nothing of the platform leaves session state on a pooled
connection: no LISTEN, no SET, no cursor outside a transaction, advisory locks only per
transaction (`pg_advisory_xact_lock`); the one session-level lock, the migrations', resets its
own connection (store/migrate.py). Code that needs session state resets the connection itself.
"""

from __future__ import annotations

import json
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any

import asyncpg
from asyncpg.pool import PoolConnectionProxy
from pydantic import BaseModel

Connection = asyncpg.Connection | PoolConnectionProxy
"""A connection of our own or one borrowed from a pool: both run the same queries."""


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def json_dumps(value: Any) -> str:
    """Compact JSON, UTF-8 text kept as is (Chinese names stay readable in the database)."""
    return json.dumps(value, default=_json_default, ensure_ascii=False, separators=(",", ":"))


def canonical_json(value: Any) -> str:
    """The one spelling of a JSON value: keys sorted, no whitespace. Used for hashes."""
    return json.dumps(value, default=_json_default, ensure_ascii=False, separators=(",", ":"), sort_keys=True)


def json_loads(text: str) -> Any:
    return json.loads(text, parse_float=Decimal)


async def init_connection(connection: asyncpg.Connection) -> None:
    """Per-connection setup: JSON codecs for both json and jsonb."""
    for type_name in ("json", "jsonb"):
        await connection.set_type_codec(
            type_name, schema="pg_catalog", encoder=json_dumps, decoder=json_loads, format="text"
        )


async def keep_session(connection: asyncpg.Connection) -> None:
    """The pool's reset on release: nothing beyond asyncpg's own rollback of an open
    transaction (see the module's docstring)."""


async def create_pool(url: str, *, min_size: int = 1, max_size: int = 10, **options: Any) -> asyncpg.Pool:
    """A connection pool for `url` with the JSON codecs installed on every connection."""
    pool = await asyncpg.create_pool(
        url, min_size=min_size, max_size=max_size, init=init_connection, reset=keep_session, **options
    )
    if pool is None:  # only when the pool is created lazily, which we never ask for
        raise RuntimeError("asyncpg did not create a pool")
    return pool


async def connect(url: str) -> asyncpg.Connection:
    """A single connection with the same codecs as the pool's (migrations, tools)."""
    connection = await asyncpg.connect(url)
    await init_connection(connection)
    return connection
