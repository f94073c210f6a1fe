"""Plain SQL migrations: `store/migrations/NNN_name.sql`, applied in order, once each.

Each migration runs in its own transaction and is recorded in `schema_migrations` with a
checksum; an applied migration whose file has since changed is an error (write a new
migration instead). The whole run holds a PostgreSQL advisory lock, so any number of
processes (API replicas, workers, tests) may call `migrate` at the same time: one applies,
the others wait and then find nothing to do. The seed data is applied afterwards, under
the same lock; it is idempotent.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import structlog

from store.db import Connection, connect
from store.seed import apply_seed

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
_FILE_NAME = re.compile(r"^(?P<version>\d{3})_(?P<name>[a-z0-9_]+)\.sql$")
# pg_advisory_lock key: "zcd migr" as a signed 64-bit integer, unique to this purpose.
MIGRATION_LOCK_KEY = int.from_bytes(b"zcd migr", "big", signed=True)

log = structlog.get_logger(__name__)


class MigrationError(RuntimeError):
    """The migrations on disk and those recorded in the database disagree."""


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()

    @property
    def label(self) -> str:
        return f"{self.version:03d}_{self.name}"


def discover(directory: Path = MIGRATIONS_DIR) -> list[Migration]:
    """The migrations in `directory`, in version order."""
    migrations: list[Migration] = []
    for path in sorted(directory.glob("*.sql")):
        match = _FILE_NAME.match(path.name)
        if match is None:
            raise MigrationError(f"{path.name}: migration files are named NNN_lowercase_name.sql")
        migrations.append(Migration(int(match["version"]), match["name"], path.read_text(encoding="utf-8")))
    versions = [m.version for m in migrations]
    if len(set(versions)) != len(versions):
        raise MigrationError(f"two migrations share a version number in {directory}")
    return migrations


async def migrate(
    target: str | asyncpg.Pool | Connection,
    *,
    seed: bool = True,
    directory: Path = MIGRATIONS_DIR,
) -> list[str]:
    """Apply the pending migrations (and the seed data) to the database `target` points at.

    `target` is a URL, a pool or a connection. Returns the labels of the migrations this
    call applied (empty when the schema was already current).
    """
    if isinstance(target, str):
        connection = await connect(target)
        try:
            return await _migrate(connection, seed=seed, directory=directory)
        finally:
            await connection.close()
    if isinstance(target, asyncpg.Pool):
        async with target.acquire() as pooled:
            try:
                return await _migrate(pooled, seed=seed, directory=directory)
            finally:
                # the pool does not reset a released connection (store/db.py): the migration
                # lock is session state, so a lock an interrupted unlock left goes here
                if not pooled.is_closed():
                    await pooled.reset()
    return await _migrate(target, seed=seed, directory=directory)


async def _migrate(connection: Connection, *, seed: bool, directory: Path) -> list[str]:
    migrations = discover(directory)
    await connection.execute("SELECT pg_advisory_lock($1)", MIGRATION_LOCK_KEY)
    try:
        await connection.execute(
            """
            CREATE TABLE IF NOT EXISTS schema_migrations (
                version    integer PRIMARY KEY,
                name       text NOT NULL,
                checksum   text NOT NULL,
                applied_at timestamptz NOT NULL DEFAULT now()
            )
            """
        )
        applied = {
            row["version"]: (row["name"], row["checksum"])
            for row in await connection.fetch("SELECT version, name, checksum FROM schema_migrations")
        }
        known = {m.version for m in migrations}
        unknown = sorted(set(applied) - known)
        if unknown:
            raise MigrationError(f"the database has migrations this code does not know: {unknown}")
        done: list[str] = []
        for migration in migrations:
            recorded = applied.get(migration.version)
            if recorded is not None:
                if recorded[1] != migration.checksum:
                    raise MigrationError(
                        f"migration {migration.label} was changed after it was applied; add a new migration instead"
                    )
                continue
            async with connection.transaction():
                await connection.execute(migration.sql)
                await connection.execute(
                    "INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)",
                    migration.version,
                    migration.name,
                    migration.checksum,
                )
            log.info("migration applied", migration=migration.label)
            done.append(migration.label)
        if seed:
            await apply_seed(connection)
        return done
    finally:
        # A lost connection has released its lock already.
        if not connection.is_closed():
            await connection.execute("SELECT pg_advisory_unlock($1)", MIGRATION_LOCK_KEY)


def main(argv: list[str] | None = None) -> None:
    """``python -m store.migrate [URL]``: migrate the given database, or the configured one
    (DATABASE_URL, else the embedded server's on ZCD_DATABASE_PORT)."""
    import asyncio
    import sys

    from domain.settings import get_settings
    from local_stack.postgres import database_url

    args = sys.argv[1:] if argv is None else argv
    settings = get_settings()
    url = args[0] if args else settings.database_url or database_url(settings.database_port)
    applied = asyncio.run(migrate(url))
    print(f"applied {', '.join(applied)}" if applied else "the schema is current")


if __name__ == "__main__":
    main()
