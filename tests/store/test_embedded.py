"""The embedded server: initdb once, a foreground child on TCP loopback, clean stop."""

from __future__ import annotations

import os
import pwd
import shutil
import tempfile
from pathlib import Path

import asyncpg
import pytest

from local_stack.postgres import (
    OS_ACCOUNT,
    EmbeddedPostgres,
    EmbeddedPostgresError,
    database_url,
    ensure_initialised,
    postgres_command,
    running_as_root,
)
from tests.fixtures.database import free_port


def test_database_url() -> None:
    assert database_url(5433) == "postgresql://postgres@127.0.0.1:5433/zcd"
    assert database_url(6000, "other") == "postgresql://postgres@127.0.0.1:6000/other"


def test_command_is_a_foreground_server_on_loopback(tmp_path: Path) -> None:
    argv = postgres_command(tmp_path / "data", 5433)
    server = argv.index(next(a for a in argv if a.endswith("/postgres")))
    assert argv[server + 1 :] == [
        "-D",
        str(tmp_path / "data"),
        "-p",
        "5433",
        "-h",
        "127.0.0.1",
        "-k",
        str(tmp_path / "data"),
    ]
    if running_as_root():
        # postgres refuses root: the command drops to the server account first
        assert server > 0 and any(f"--reuid={pwd.getpwnam(OS_ACCOUNT).pw_uid}" in a for a in argv[:server])


async def test_server_listens_on_tcp_loopback_only(postgres_server: EmbeddedPostgres) -> None:
    connection = await asyncpg.connect(postgres_server.url)
    try:
        assert await connection.fetchval("SHOW listen_addresses") == "127.0.0.1"
        assert str(await connection.fetchval("SELECT inet_server_addr()")) == "127.0.0.1"
        assert await connection.fetchval("SELECT current_setting('server_encoding')") == "UTF8"
    finally:
        await connection.close()


async def test_server_runs_unprivileged(postgres_server: EmbeddedPostgres) -> None:
    assert postgres_server.pid is not None
    uid = _uid_of(postgres_server.pid)
    assert uid != 0
    assert postgres_server.data_dir.stat().st_uid == uid == os.stat(postgres_server.data_dir / "PG_VERSION").st_uid


async def test_initialising_again_changes_nothing(postgres_server: EmbeddedPostgres) -> None:
    before = (postgres_server.data_dir / "PG_VERSION").stat().st_mtime_ns
    ensure_initialised(postgres_server.data_dir)
    assert (postgres_server.data_dir / "PG_VERSION").stat().st_mtime_ns == before


def test_a_directory_holding_something_else_is_not_overwritten(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "notes.txt").write_text("mine")
    with pytest.raises(EmbeddedPostgresError):
        ensure_initialised(tmp_path / "data")
    assert (tmp_path / "data" / "notes.txt").read_text() == "mine"


async def test_start_stop_and_start_again_keeps_the_data() -> None:
    base = Path(tempfile.mkdtemp(prefix="zcd-test-pg-cycle-"))
    try:
        port = free_port()
        async with EmbeddedPostgres(base / "data", port, database="cycle", durable=False) as server:
            connection = await asyncpg.connect(server.url)
            await connection.execute("CREATE TABLE kept (note text); INSERT INTO kept VALUES ('still here')")
            await connection.close()
            pid = server.pid
        assert pid is not None and not _is_running(pid)  # stopped and reaped
        async with EmbeddedPostgres(base / "data", port, database="cycle", durable=False) as server:
            connection = await asyncpg.connect(server.url)
            assert await connection.fetchval("SELECT note FROM kept") == "still here"
            await connection.close()
    finally:
        shutil.rmtree(base, ignore_errors=True)


def _uid_of(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(next(line for line in status.splitlines() if line.startswith("Uid:")).split()[1])


def _is_running(pid: int) -> bool:
    return Path(f"/proc/{pid}").exists()
