"""`zcd demo`'s report: this run's applications by stage, its money, and what the
reconciliations found — in tables a person reads at the end of the run."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from rich.console import Console
from rich.table import Table

from demo.driving import Outcome
from demo.reconciliation import LoanRecord
from domain.money import ZERO
from domain.stages import Stage


@dataclass
class Report:
    records: list[LoanRecord]
    failures: list[Outcome]
    disagreements: list[str]
    seconds: float
    stats_caught_up: bool = False  # the read model needed a moment after the last GET application
    stuck: int | None = None  # what GET /v1/ops/stuck lists after the run (whole platform)
    misdirected: int = 0  # this run's payments into a wrong account, each a stuck process
    books: list[dict[str, Any]] = field(default_factory=list)  # each bank's book from its event feed
    book_disagreements: list[str] | None = None  # None: no bank follows its feed here
    book_seconds: float = 0.0  # how long the books took to agree with /v1/stats after the run


def stage_table(records: list[LoanRecord]) -> Table:
    table = Table(title="this run's applications by stage")
    table.add_column("stage")
    table.add_column("applications", justify="right")
    counts = Counter(r.stage for r in records)
    for stage in Stage:
        if counts[stage]:
            table.add_row(stage.value, str(counts[stage]))
    table.add_row("[bold]total[/]", f"[bold]{len(records)}[/]")
    return table


def money_table(records: list[LoanRecord]) -> Table:
    table = Table(title="money (CNY)")
    table.add_column("figure")
    table.add_column("amount", justify="right")
    rows = {
        "approved (credit granted)": sum((r.approved or ZERO for r in records), ZERO),
        "disbursed": sum((r.disbursed for r in records), ZERO),
        "principal repaid": sum((r.principal_repaid for r in records), ZERO),
        "interest paid": sum((r.interest_paid for r in records), ZERO),
        "surplus released to suppliers": sum((r.surplus_released for r in records), ZERO),
        "outstanding": sum((r.outstanding for r in records if r.on_book), ZERO),
    }
    for name, amount in rows.items():
        table.add_row(name, f"{amount:,.2f}")
    return table


def book_table(books: list[dict[str, Any]]) -> Table:
    """The banks' books from their event feeds (banks with nothing in them left out)."""
    table = Table(title="each bank's book, from its event feed alone")
    # narrow enough for an 80-column terminal; what was repaid, by part, is in GET /sim/book
    for name in ("bank", "applications", "loans", "disbursed", "outstanding", "events"):
        table.add_column(name, justify="left" if name == "bank" else "right")
    for book in books:
        applications = sum(book["applications"].values())
        if not applications:
            continue
        table.add_row(
            book["bank_code"],
            str(applications),
            str(book["loans"]),
            f"{Decimal(book['financing_disbursed']):,.2f}",
            f"{Decimal(book['outstanding']):,.2f}",
            str(book["events_applied"]),
        )
    return table


def print_books(report: Report, console: Console) -> None:
    if report.book_disagreements is None:
        console.print("(no bank follows its event feed here: the bank simulator was given no keys)")
        return
    console.print(book_table(report.books))
    if report.book_disagreements:
        console.print(f"[bold red]banks' books: {len(report.book_disagreements)} disagreements with /v1/stats[/]")
        for line in report.book_disagreements:
            console.print(f"  - {line}")
        errors = {b["bank_code"]: b["last_error"] for b in report.books if b.get("last_error")}
        for code, error in sorted(errors.items()):
            console.print(f"  ({code}'s last poll of its feed: {error})")
    else:
        console.print(
            f"[bold green]banks' books agree[/] — each bank's book built from GET /v1/events alone equals "
            f"/v1/stats for that bank (disbursed, outstanding, loans) and, over all banks, its count per stage "
            f"(caught up {report.book_seconds:.1f} s after the run)"
        )


def print_report(report: Report, console: Console) -> None:
    records = report.records
    console.print(stage_table(records))
    console.print(money_table(records))
    banks = len({r.bank_code for r in records})
    districts = len({r.district for r in records})
    console.print(f"{len(records)} applications, {banks} banks, {districts} districts, in {report.seconds:.1f} s")
    waiting = sum(1 for r in records if r.stage == Stage.BANK_REVIEW)
    if waiting:
        console.print(
            f"{waiting} left waiting in bank_review: ops find them in GET /v1/ops/stuck once past the review SLA"
        )
    misdirected = report.misdirected
    if report.stuck is not None:
        console.print(
            f"GET /v1/ops/stuck lists {report.stuck} processes needing a person"
            + (f" (this run's {misdirected} payments to a wrong account among them)" if misdirected else "")
        )
    if report.stats_caught_up:
        console.print("(/v1/stats lagged behind the applications for a moment after the run, then caught up)")
    for outcome in report.failures:
        console.print(f"[bold red]failed:[/] {outcome.plan.scenario} {outcome.plan.contract_no}: {outcome.error}")
    if report.disagreements:
        console.print(f"[bold red]reconciliation: {len(report.disagreements)} disagreements[/]")
        for line in report.disagreements:
            console.print(f"  - {line}")
    elif records:
        console.print(
            "[bold green]reconciliation: agrees[/] — platform per application, bank disbursements "
            "and the change of /v1/stats (totals, per bank, per district, per stage)"
        )
    print_books(report, console)
