"""Run 政采贷 (government-procurement contract financing on Temporal), or one of its parts.

Settings come from the environment (ZCD_*, DATABASE_URL; see README's configuration table).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import typer
from rich.console import Console
from rich.markup import escape

from domain.settings import get_settings

if TYPE_CHECKING:
    import asyncpg

_T = TypeVar("_T")

app = typer.Typer(help=__doc__, no_args_is_help=True, add_completion=False)
console = Console()


@app.command()
def run() -> None:
    """Start the whole platform locally (what `make run` calls); Ctrl-C stops everything.

    Embedded PostgreSQL (or the one at DATABASE_URL), the Temporal dev server and UI, the simulators,
    the worker and the API, with settings from ZCD_*.
    Writes URLs, bank and ops keys and callback secrets to <ZCD_DATA_DIR>/dev.json."""
    from local_stack.supervisor import StackError, run_stack
    from runtime.logging import configure_logging

    configure_logging(get_settings())

    def ready(document: dict[str, Any], handoff: Path) -> None:
        console.print("[bold green]政采贷 is up.[/]")
        if "api" in document:
            console.print(f"  API docs      {document['api']}/docs")
        console.print(f"  Temporal UI   {document['temporal_ui']}")
        if "codec_login" in document:
            login = document["codec_login"]
            console.print(f"  UI decoding   {login} (sign in with the ops key; a session lasts 8 hours)")
        for name, url in document["simulators"].items():
            console.print(f"  {name:<13} {url}")
        metrics = [f"{url} ({name})" for name, url in (document.get("metrics") or {}).items() if url]
        if metrics:
            console.print(f"  metrics       {', '.join(metrics)}")
        console.print(f"  credentials   {handoff} (bank keys, ops key, callback secrets)")
        console.print("Ctrl-C stops everything.")

    try:
        asyncio.run(run_stack(get_settings(), on_ready=ready))
    except StackError as err:
        # the message may hold a child's log lines: printed as they are (no markup, no wrapping)
        console.print("[bold red]zcd run stopped:[/]", end=" ")
        console.print(str(err), markup=False, highlight=False, soft_wrap=True)
        raise typer.Exit(1) from None
    except KeyboardInterrupt:
        pass


@app.command()
def worker() -> None:
    """Run the Temporal worker (needs DATABASE_URL and ZCD_TEMPORAL_ADDRESS).

    Polls ZCD_TASK_QUEUE in ZCD_TEMPORAL_NAMESPACE (TLS: ZCD_TEMPORAL_TLS*, ZCD_TEMPORAL_API_KEY)
    and calls the systems at ZCD_PROCUREMENT_URL, ZCD_BANK_URL and ZCD_TREASURY_URL."""
    from runtime.logging import configure_logging
    from worker.main import run_worker

    configure_logging(get_settings())
    asyncio.run(run_worker(get_settings()))


@app.command()
def api() -> None:
    """Run the platform API (needs DATABASE_URL and ZCD_TEMPORAL_ADDRESS).

    Serves on ZCD_API_HOST:ZCD_API_PORT.
    Beyond loopback it refuses to start while ZCD_TREASURY_SECRET or ZCD_PROCUREMENT_SECRET
    still holds its public development default."""
    from domain.settings import public_default_secrets
    from runtime.logging import configure_logging

    settings = get_settings()
    public = public_default_secrets(settings)
    if public:
        console.print(
            f"[bold red]zcd api refuses to start:[/] {' and '.join(public)} still "
            f"{'hold their' if len(public) > 1 else 'holds its'} public development default, and the API is "
            f"bound to {escape(repr(settings.api_host))}, beyond loopback: anyone could sign "
            "treasury or procurement callbacks. Set "
            f"{'them to random secrets' if len(public) > 1 else 'it to a random secret'} "
            "shared with the systems that sign the callbacks "
            "(e.g. `python3 -c 'import secrets; print(secrets.token_urlsafe(32))'`), or bind ZCD_API_HOST "
            "to 127.0.0.1.",
            markup=True,
            highlight=False,
        )
        raise typer.Exit(1)
    configure_logging(settings)
    from api.main import serve

    asyncio.run(serve(settings))


@app.command("ui-proxy")
def ui_proxy() -> None:
    """Serve the Temporal UI with /codec forwarded to the API (part of `zcd run`).

    Listens on ZCD_TEMPORAL_UI_PORT; the dev server's own UI is on ZCD_TEMPORAL_UI_BACKEND_PORT,
    the API at ZCD_API_URL."""
    from local_stack.ui_proxy import serve
    from runtime.logging import configure_logging

    configure_logging(get_settings())
    try:
        asyncio.run(serve(get_settings()))
    except KeyboardInterrupt:
        pass


@app.command()
def simulators() -> None:
    """Run the procurement, bank, treasury and SMS simulators (state under ZCD_DATA_DIR).

    Binds ZCD_SIMULATORS_HOST on ZCD_PROCUREMENT_PORT, ZCD_BANK_PORT, ZCD_TREASURY_PORT and ZCD_SMS_PORT;
    signed callbacks go to ZCD_API_URL with ZCD_TREASURY_SECRET / ZCD_PROCUREMENT_SECRET."""
    from runtime.logging import configure_logging
    from simulators.main import serve_until_stopped

    settings = get_settings()
    configure_logging(settings)
    try:
        asyncio.run(serve_until_stopped(settings, settings.data_dir))
    except KeyboardInterrupt:  # before the loop's handlers are in place
        pass


@app.command()
def migrate(database_url: str = typer.Option(None, envvar="DATABASE_URL", help="PostgreSQL URL")) -> None:
    """Apply the SQL migrations and seed data (banks, products, districts) to DATABASE_URL."""
    from store.migrate import migrate as apply

    if not database_url:
        console.print("[red]DATABASE_URL is not set[/]")
        raise typer.Exit(1)
    applied = asyncio.run(apply(database_url))
    console.print(f"applied {len(applied)} migrations: {', '.join(applied) or 'none (up to date)'}")


keys_app = typer.Typer(
    help="Issue, list and revoke API keys (bank and ops) in the database at DATABASE_URL.\n\n"
    "Keys are stored hashed: an issued key is printed once. Issues and revocations go to the audit trail.",
    no_args_is_help=True,
)
app.add_typer(keys_app, name="keys")

_DATABASE_URL = typer.Option(None, envvar="DATABASE_URL", help="PostgreSQL URL")


def _require_database_url(database_url: str | None) -> str:
    if not database_url:
        console.print("[red]DATABASE_URL is not set[/]")
        raise typer.Exit(1)
    return database_url


async def _with_pool(database_url: str, work: Callable[[asyncpg.Pool], Awaitable[_T]]) -> _T:
    from store.db import create_pool

    pool = await create_pool(database_url, min_size=1, max_size=2)
    try:
        return await work(pool)
    finally:
        await pool.close()


@keys_app.command("issue")
def keys_issue(
    bank: str = typer.Option(None, "--bank", help="a seeded bank's code (e.g. ICBC): a key bound to that bank"),
    ops: bool = typer.Option(False, "--ops", help="an operations key"),
    name: str = typer.Option(None, "--name", help="a label for the key (ops: audit actor ops:<name>)"),
    database_url: str = _DATABASE_URL,
) -> None:
    """Issue a new key for a bank (--bank CODE) or for operations (--ops) and print it once."""
    from store.audit import AuditTrail
    from store.principals import Principal, UnknownBank, issue_key

    if bool(bank) == ops:
        console.print("[red]give exactly one of --bank CODE or --ops[/]")
        raise typer.Exit(2)
    url = _require_database_url(database_url)
    bank_code = bank.strip().upper() if bank else None

    async def work(pool: asyncpg.Pool) -> tuple[Principal, str]:
        principal, key = await issue_key(pool, "bank" if bank_code else "ops", bank_code=bank_code, label=name)
        details = {"principal_id": principal.principal_id, "kind": principal.kind, "label": principal.label}
        await AuditTrail(pool).append("cli", "key.issued", None, {**details, "bank_code": principal.bank_code})
        return principal, key

    try:
        principal, key = asyncio.run(_with_pool(url, work))
    except UnknownBank:
        console.print(f"[red]unknown bank code {escape(repr(bank_code))}[/]: `zcd keys banks` lists the seeded banks")
        raise typer.Exit(1) from None
    # the key alone on stdout (scripts capture it); the rest on stderr
    errors = Console(stderr=True)
    errors.print(f"issued principal {principal.principal_id} ({escape(principal.name)})")
    typer.echo(key)
    errors.print("[yellow]Keep this key now: it is stored hashed and cannot be shown again.[/]")


@keys_app.command("list")
def keys_list(database_url: str = _DATABASE_URL) -> None:
    """List the principals (id, kind, bank, label, created, revoked); never keys or hashes."""
    from rich.table import Table

    from store.principals import list_principals

    records = asyncio.run(_with_pool(_require_database_url(database_url), list_principals))
    table = Table("id", "kind", "bank", "label", "created", "revoked")
    for record in records:
        table.add_row(
            str(record.principal_id),
            record.kind,
            record.bank_code or "",
            record.label,
            f"{record.created_at:%Y-%m-%d %H:%M:%S%z}",
            f"{record.revoked_at:%Y-%m-%d %H:%M:%S%z}" if record.revoked_at else "",
        )
    console.print(table)


@keys_app.command("banks")
def keys_banks(database_url: str = _DATABASE_URL) -> None:
    """List the seeded banks' codes (what `zcd keys issue --bank` accepts)."""
    from store.banks import BankRepository

    async def work(pool: asyncpg.Pool) -> list[tuple[str, str]]:
        return [(b.bank_code, b.name) for b in await BankRepository(pool).list_banks()]

    for code, bank_name in asyncio.run(_with_pool(_require_database_url(database_url), work)):
        typer.echo(f"{code}\t{bank_name}")


@keys_app.command("revoke")
def keys_revoke(
    principals: list[str] = typer.Argument(..., help="principal ids (from `zcd keys list`) or whole keys"),
    database_url: str = _DATABASE_URL,
) -> None:
    """Revoke keys by principal id (or by the key itself). Their codec sessions end with them."""
    from store.audit import AuditTrail
    from store.principals import authenticate, revoke_principal

    url = _require_database_url(database_url)

    async def work(pool: asyncpg.Pool) -> bool:
        trail, all_revoked = AuditTrail(pool), True
        for identifier in principals:
            if identifier.isdigit():
                principal_id: int | None = int(identifier)
                shown = f"principal {identifier}"
            else:  # a whole key: find its principal (a key is never printed back)
                found = await authenticate(pool, identifier)
                principal_id = found.principal_id if found else None
                shown = "that key"
            revoked = await revoke_principal(pool, principal_id) if principal_id is not None else None
            if revoked is None:
                console.print(f"[red]{shown}: no such key, or already revoked[/]")
                all_revoked = False
                continue
            await trail.append(
                "cli",
                "key.revoked",
                None,
                {"principal_id": revoked.principal_id, "kind": revoked.kind, "bank_code": revoked.bank_code},
            )
            console.print(
                f"revoked principal {revoked.principal_id} ({escape(revoked.name)}); its codec sessions end now"
            )
        return all_revoked

    if not asyncio.run(_with_pool(url, work)):
        raise typer.Exit(1)


@app.command()
def demo(
    count: int = typer.Option(50, "--count", min=1, help="how many financings to drive"),
    seed: int = typer.Option(7, "--seed", help="the same seed gives the same mix of banks, amounts and outcomes"),
    concurrency: int = typer.Option(8, "--concurrency", min=1, help="financings driven at the same time"),
    stage_timeout: float = typer.Option(60.0, "--stage-timeout", help="seconds to wait for each stage"),
) -> None:
    """Drive N financings through a running `make run` and reconcile the money.

    Reads the platform's URLs and keys from <ZCD_DATA_DIR>/dev.json, then acts as banks,
    purchasers, the treasury and ops: approvals and rejections, online and offline account locks,
    a refused lock, partial and full treasury payments, an early repayment, a withdrawal, some left
    in bank review.
    Prints the stages and money and reconciles the platform's figures per application, the bank
    simulator's disbursements and the change of /v1/stats; exits 1 when anything disagrees."""
    from demo.run import DemoError, run

    try:
        agrees = run(get_settings().data_dir, count, seed, concurrency, stage_timeout, console)
    except DemoError as err:
        console.print(f"[bold red]zcd demo:[/] {err}")
        raise typer.Exit(1) from None
    if not agrees:
        raise typer.Exit(1)


if __name__ == "__main__":
    app()
