"""`zcd demo`'s reconciliation, pure over plain data (unit-tested without a stack,
tests/unit/test_demo_reconciliation.py; the chaos checks use it too): three independent records
of this run's loans — the platform's own figures per application, the bank simulator's record
of every disbursement it executed, and the change of `GET /v1/stats` between a snapshot taken
before and one after the run — must agree to the fen.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from domain.money import ZERO
from domain.stages import PAYMENT_ACCEPTING_STAGES, Stage

FIGURES = ("credit_granted", "financing_disbursed", "outstanding")
# a loan in these stages was paid out: still owed, repaid, or written off
DISBURSED_STAGES = frozenset(PAYMENT_ACCEPTING_STAGES | {Stage.SETTLED})


def money_or_none(value: str | None) -> Decimal | None:
    return None if value is None else Decimal(value)


@dataclass(frozen=True)
class LoanRecord:
    """One application of this run, with what each record says about it."""

    application_id: str
    contract_no: str
    bank_code: str
    district: str
    stage: str  # the platform's
    expected_stage: str | None  # where the demo drove it; None: not judged (driving failed)
    demo_approved: Decimal | None  # what the bank (the demo) approved
    approved: Decimal | None  # the platform's approved_amount
    disbursed_on: str | None  # the platform's
    outstanding: Decimal
    principal_repaid: Decimal
    interest_paid: Decimal = ZERO
    surplus_released: Decimal = ZERO
    bank_disbursements: list[Decimal] = field(default_factory=list)  # the bank simulator's

    @property
    def disbursed(self) -> Decimal:
        """The platform's disbursed amount: the approved amount once a disbursement date is set."""
        return (self.approved or ZERO) if self.disbursed_on is not None else ZERO

    @property
    def on_book(self) -> bool:
        """Counted in the bureau's `outstanding` (a written-off loan has left the book)."""
        return self.disbursed_on is not None and self.stage != Stage.WRITTEN_OFF


def loan_disagreements(record: LoanRecord) -> list[str]:
    """Where the demo, the platform and the bank simulator disagree about one loan."""
    name = f"{record.application_id} ({record.contract_no})"
    found = []
    if record.expected_stage is not None and record.stage != record.expected_stage:
        found.append(f"{name}: stage {record.stage}, expected {record.expected_stage}")
    if record.approved != record.demo_approved:
        found.append(
            f"{name}: platform approved {_show(record.approved)}, the bank approved {_show(record.demo_approved)}"
        )
    paid_out = record.bank_disbursements
    if record.disbursed_on is None:
        if paid_out:
            found.append(f"{name}: not disbursed on the platform, but the bank paid out {_amounts(paid_out)}")
    else:
        if len(paid_out) != 1:
            found.append(
                f"{name}: the bank executed {len(paid_out)} disbursements {_amounts(paid_out)}, expected exactly 1"
            )
        elif paid_out[0] != record.disbursed:
            found.append(f"{name}: the bank paid out {paid_out[0]:.2f}, the platform disbursed {record.disbursed:.2f}")
        # The ledger's balances: what was lent is either still owed or repaid.
        if record.outstanding + record.principal_repaid != record.disbursed:
            found.append(
                f"{name}: outstanding {record.outstanding:.2f} + repaid {record.principal_repaid:.2f} "
                f"≠ disbursed {record.disbursed:.2f}"
            )
    if record.stage in DISBURSED_STAGES and record.disbursed_on is None:
        found.append(f"{name}: stage {record.stage} without a disbursement date")
    return found


def expected_deltas(records: Iterable[LoanRecord]) -> dict[str, Decimal]:
    """How much this run should have moved the bureau's three figures."""
    records = list(records)
    return {
        "credit_granted": sum((r.approved or ZERO for r in records), ZERO),
        # what the bank actually paid out, an independent record of financing disbursed
        "financing_disbursed": sum((sum(r.bank_disbursements, ZERO) for r in records), ZERO),
        "outstanding": sum((r.outstanding for r in records if r.on_book), ZERO),
    }


def figures_delta(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Decimal]:
    return {name: Decimal(after.get(name, "0.00")) - Decimal(before.get(name, "0.00")) for name in FIGURES}


def _rows(stats: dict[str, Any], breakdown: str, key: str) -> dict[str, dict[str, Any]]:
    return {row[key]: row for row in stats.get(breakdown, [])}


def stats_disagreements(before: dict[str, Any], after: dict[str, Any], records: Iterable[LoanRecord]) -> list[str]:
    """Compare the change of GET /v1/stats with this run's loans: the totals, each bank's
    and each district's figures, and the count per stage."""
    records = list(records)
    found = _delta_disagreements("platform-wide", figures_delta(before, after), expected_deltas(records))
    for breakdown, key, of in (("by_bank", "bank_code", "bank_code"), ("by_district", "district", "district")):
        rows_before, rows_after = _rows(before, breakdown, key), _rows(after, breakdown, key)
        for name in sorted(set(rows_after) | {getattr(r, of) for r in records}):
            mine = [r for r in records if getattr(r, of) == name]
            delta = figures_delta(rows_before.get(name, {}), rows_after.get(name, {}))
            found += _delta_disagreements(f"{breakdown} {name}", delta, expected_deltas(mine))
    counted = Counter(r.stage for r in records)
    counts_before, counts_after = before.get("applications", {}), after.get("applications", {})
    for stage in sorted(set(counts_after) | set(counted)):
        delta = counts_after.get(stage, 0) - counts_before.get(stage, 0)
        if delta != counted.get(stage, 0):
            found.append(f"stats applications[{stage}] moved by {delta}, this run left {counted.get(stage, 0)} there")
    return found


def _delta_disagreements(where: str, delta: dict[str, Decimal], expected: dict[str, Decimal]) -> list[str]:
    return [
        f"stats {where} {name} moved by {delta[name]:.2f}, this run accounts for {expected[name]:.2f}"
        for name in FIGURES
        if delta[name] != expected[name]
    ]


def reconcile(records: Iterable[LoanRecord], before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    """Every disagreement between the three records; an empty list means they agree."""
    records = list(records)
    found = [problem for record in records for problem in loan_disagreements(record)]
    return found + stats_disagreements(before, after, records)


def _show(amount: Decimal | None) -> str:
    return "nothing" if amount is None else f"{amount:.2f}"


def _amounts(amounts: list[Decimal]) -> str:
    return "[" + ", ".join(f"{a:.2f}" for a in amounts) + "]"


# ---- each bank's book from its event feed against /v1/stats ----------------------------------

BOOK_FIGURES = ("financing_disbursed", "outstanding")


def book_disagreements(books: Iterable[dict[str, Any]], stats: dict[str, Any]) -> list[str]:
    """Where the banks' books, built from their event feeds alone (GET /sim/book), differ from
    `/v1/stats`: per bank the money paid out, the principal outstanding and the loans; summed
    over the banks, the applications in each stage (only when every bank of the stats follows its
    feed). Absolute figures: a feed followed from its start has seen every application."""
    books = list(books)
    rows = _rows(stats, "by_bank", "bank_code")
    found = []
    for book in books:
        code = book["bank_code"]
        row = rows.get(code, {})
        for name in BOOK_FIGURES:
            mine, theirs = Decimal(book[name]), Decimal(row.get(name, "0.00"))
            if mine != theirs:
                found.append(f"book {code} {name} {mine:.2f} from events, /v1/stats says {theirs:.2f}")
        if book["loans"] != row.get("loans", 0):
            found.append(f"book {code} loans {book['loans']} from events, /v1/stats says {row.get('loans', 0)}")
        found += [f"book {code}: {line}" for line in book.get("out_of_order", [])]
    if books and set(rows) <= {book["bank_code"] for book in books}:
        counted: Counter[str] = Counter()
        for book in books:
            counted.update(book["applications"])
        counts = stats.get("applications", {})
        for stage in sorted(set(counts) | set(counted)):
            count = counts.get(stage, 0)
            if counted.get(stage, 0) != count:
                found.append(f"books applications[{stage}] {counted.get(stage, 0)} from events, /v1/stats says {count}")
    return found
