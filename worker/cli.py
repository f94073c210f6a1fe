"""`zcd`: run the platform or one of its parts.

zcd run          the whole platform locally (what `make run` calls)
zcd worker       the Temporal worker (financing task queue)
zcd api          the platform API (when built)
zcd simulators   the procurement, bank and treasury simulators
zcd ui-proxy     the Temporal UI with the API's /codec on its origin (part of zcd run)
zcd migrate      apply the database migrations and seed data
zcd demo         drive N financings through a running platform and reconcile the money
"""

from __future__ import annotations

import asyncio
import importlib
from pathlib import Path
from typing import Any

import typer
from rich.console import Console

from domain.settings import get_settings

app = typer.Typer(help=__doc__, no_args_is_help=True, add_completion=False)
console = Console()


@app.command()
def run() -> None:
    """Start the whole platform with its embedded defaults: PostgreSQL, the Temporal dev server
    and UI, the simulators, the worker and the API. Ctrl-C stops everything."""
    from worker.logging import configure_logging
    from worker.stack import StackError, run_stack

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
    """Run the Temporal worker (needs DATABASE_URL and a reachable Temporal)."""
    from worker.logging import configure_logging
    from worker.main import run_worker

    configure_logging(get_settings())
    asyncio.run(run_worker(get_settings()))


@app.command()
def api() -> None:
    """Run the platform API."""
    from worker.logging import configure_logging

    configure_logging(get_settings())
    try:
        module = importlib.import_module("api.main")
    except ModuleNotFoundError:
        console.print("[red]the API is not part of this build yet[/]")
        raise typer.Exit(1) from None
    asyncio.run(module.serve(get_settings()))


@app.command("ui-proxy")
def ui_proxy() -> None:
    """The Temporal UI ops open (`zcd run` starts it): the dev server's UI, with /codec on the
    same origin forwarded to the API, so the UI's decode requests carry the codec session."""
    from worker.logging import configure_logging
    from worker.ui_proxy import serve

    configure_logging(get_settings())
    try:
        asyncio.run(serve(get_settings()))
    except KeyboardInterrupt:
        pass


@app.command()
def simulators() -> None:
    """Run the procurement, bank and treasury simulators (state under the data dir)."""
    from simulators.main import serve_until_stopped
    from worker.logging import configure_logging

    settings = get_settings()
    configure_logging(settings)
    try:
        asyncio.run(serve_until_stopped(settings, settings.data_dir))
    except KeyboardInterrupt:  # before the loop's handlers are in place
        pass


@app.command()
def migrate(database_url: str = typer.Option(None, envvar="DATABASE_URL", help="PostgreSQL URL")) -> None:
    """Apply the SQL migrations and seed data (banks, products, districts)."""
    from store.migrate import migrate as apply

    if not database_url:
        console.print("[red]DATABASE_URL is not set[/]")
        raise typer.Exit(1)
    applied = asyncio.run(apply(database_url))
    console.print(f"applied {len(applied)} migrations: {', '.join(applied) or 'none (up to date)'}")


@app.command()
def demo(
    count: int = typer.Option(50, "--count", min=1, help="how many financings to drive"),
    seed: int = typer.Option(7, "--seed", help="the same seed gives the same mix of banks, amounts and outcomes"),
    concurrency: int = typer.Option(8, "--concurrency", min=1, help="financings driven at the same time"),
    stage_timeout: float = typer.Option(60.0, "--stage-timeout", help="seconds to wait for each stage"),
) -> None:
    """Against a running platform (`make run`), act as banks, purchasers, the treasury and ops:
    approvals and rejections, online and offline account locks, a refused lock, partial and full
    treasury payments, an early repayment, a withdrawal, some left in bank review. Then print the
    stages and money, and reconcile the platform's figures per application, the bank simulator's
    disbursements and the change of /v1/stats. Exit 1 when anything disagrees."""
    from worker.demo import DemoError, run

    try:
        agrees = run(get_settings().data_dir, count, seed, concurrency, stage_timeout, console)
    except DemoError as err:
        console.print(f"[bold red]zcd demo:[/] {err}")
        raise typer.Exit(1) from None
    if not agrees:
        raise typer.Exit(1)


if __name__ == "__main__":
    app()
