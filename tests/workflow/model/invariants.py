"""What the model knows it did, and what must hold of the financing after every step.

The model keeps its own ledger of what it sent and what the platform acknowledged (`Ledger`);
the checks compare it with the workflow's view (the `view` query), its record (what the
workflow wrote to the read model, `fakes.views`), the outside systems (the fakes: payouts, the
bank's repayment ledger, the registry, the treasury lock) and the history. Each check raises an
AssertionError that says which rule of issue 9 broke.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Literal

from domain import steps
from domain.application import ApplicationView, MessageOutcome, start_of_business_day
from domain.money import ZERO
from domain.stages import Stage
from tests.workflow.harness import COLLECTION_ACCOUNT
from tests.workflow.model.driver import Progress
from tests.workflow.model.systems import ModelSystems

S = Stage
# domain/stages.py and the workflow's diagram: where each stage may go next
LEGAL_NEXT: dict[Stage, frozenset[Stage]] = {
    S.VERIFYING: frozenset({S.BANK_REVIEW, S.REJECTED, S.WITHDRAWN, S.FAILED}),
    S.BANK_REVIEW: frozenset({S.ACCOUNT_LOCK, S.REJECTED, S.EXPIRED, S.WITHDRAWN, S.FAILED}),
    S.ACCOUNT_LOCK: frozenset({S.DISBURSING, S.FAILED, S.WITHDRAWN}),
    S.DISBURSING: frozenset({S.REPAYING, S.FAILED}),
    S.REPAYING: frozenset({S.OVERDUE, S.SETTLED}),
    S.OVERDUE: frozenset({S.SETTLED, S.WRITTEN_OFF}),
}
PREAPPROVED_NEXT = frozenset({S.ACCOUNT_LOCK})  # verifying -> account_lock: an accepted offer
MONEY_KINDS = ("treasury_payment", "supplier_repayment")
Outcome = Literal["waiting", "applied", "repeat", "kept"]


@dataclass
class Sent:
    """A message the platform acknowledged (a signal delivered, an update answered)."""

    kind: Literal["treasury_payment", "supplier_repayment", "account_change"]
    message_id: str
    amount: Decimal | None = None
    misdirected: bool = False
    decision: str | None = None
    expected: Outcome | None = None  # an outcome the model can tell at once (None: it depends)


@dataclass
class Ledger:
    application_id: str
    contract_no: str
    preapproved: bool = False
    sent: dict[str, Sent] = field(default_factory=dict)  # message id -> first delivery
    pending_supplier: set[str] = field(default_factory=set)  # reported, not answered yet
    decision: str | None = None
    interrupted: bool = False  # a withdrawal or an ops cancellation was accepted
    offline_answer: str | None = None
    write_off: bool = False
    temporal_cancel: bool = False
    refused_steps: set[str] = field(default_factory=set)  # steps that were ever refused
    acknowledged: set[str] = field(default_factory=set)
    timeline: list[tuple[Stage, datetime]] = field(default_factory=list)  # stage entries seen
    outcomes: dict[str, str] = field(default_factory=dict)  # message id -> last outcome seen
    record_version: int = 0

    def money(self) -> dict[str, Sent]:
        return {k: s for k, s in self.sent.items() if s.kind in MONEY_KINDS}

    def lock_answer(self, view: ApplicationView) -> str | None:
        if self.offline_answer is not None:
            return self.offline_answer
        for m in view.messages:
            if m.kind == "account_change" and m.outcome == "applied":
                return self.sent[m.message_id].decision
        return None


def stages_of(view: ApplicationView) -> list[tuple[Stage, datetime]]:
    return [(e.stage, e.at) for e in view.timeline if e.note is None]


def _fail(rule: str, detail: str) -> AssertionError:
    return AssertionError(f"[{rule}] {detail}")


# -------------------------------------------------------------------- always


def check_history(ledger: Ledger, progress: Progress) -> None:
    """No workflow task fails (a replay that does not match, a handler that raises); the
    execution only ever completes — a financing ends in a stage, never as a cancelled or
    failed execution (a Temporal cancellation ends it `failed` before payout, and is ignored
    and flagged after)."""
    if progress.task_failures:
        raise _fail("replay", f"workflow task failed: {progress.task_failures[0]}")
    if progress.scheduled[steps.DISBURSE] > 1:
        raise _fail("payout", f"the workflow ordered the payout {progress.scheduled[steps.DISBURSE]} times")
    money = len(ledger.money()) + len(ledger.pending_supplier)
    if progress.scheduled[steps.APPLY_REPAYMENT] > money:
        captures = progress.scheduled[steps.APPLY_REPAYMENT]
        raise _fail("money", f"{captures} repayments ordered at the bank for {money} amounts received")
    if progress.closed not in (None, "completed"):
        cancel = " (a Temporal cancellation was requested)" if ledger.temporal_cancel else ""
        raise _fail("ends", f"the workflow execution ended {progress.closed}{cancel}")


def check_stages(ledger: Ledger, view: ApplicationView) -> None:
    """Only legal transitions, the timeline only grows, the stage is its last entry."""
    entries = stages_of(view)
    if entries[: len(ledger.timeline)] != ledger.timeline:
        raise _fail("stages", f"the timeline was rewritten: seen {ledger.timeline}, now {entries}")
    if entries[0][0] != S.VERIFYING:
        raise _fail("stages", f"the financing did not start verifying: {entries}")
    for (before, _), (after, _) in itertools.pairwise(entries):
        allowed = LEGAL_NEXT.get(before, frozenset())
        if before == S.VERIFYING and ledger.preapproved:
            allowed |= PREAPPROVED_NEXT
        if after not in allowed:
            path = " -> ".join(s for s, _ in entries)
            raise _fail("stages", f"illegal transition {before} -> {after} (timeline {path})")
    if view.stage != entries[-1][0]:
        raise _fail("stages", f"stage {view.stage} is not the timeline's last ({entries[-1][0]})")
    ledger.timeline = entries


def check_record(ledger: Ledger, view: ApplicationView, record: ApplicationView | None) -> None:
    """The record is never ahead of the workflow: an earlier or the same view of it."""
    if record is None:
        return
    if record.version > view.version:
        raise _fail("record", f"record version {record.version} ahead of the workflow's {view.version}")
    if record.version < ledger.record_version:
        raise _fail("record", f"record went back from version {ledger.record_version} to {record.version}")
    ledger.record_version = record.version
    # stages, not their instants: a workflow task whose completion the server refused (a
    # message came while it ran the closing steps) has already written its record; the task
    # runs again, later, and its record of the same version is ignored by the versioned upsert
    recorded, running = [s for s, _ in stages_of(record)], [s for s, _ in stages_of(view)]
    if recorded != running[: len(recorded)]:
        raise _fail("record", f"the record shows stages {recorded}, the workflow went {running}")
    mine = {m.message_id: m for m in view.messages}
    for m in record.messages:
        now = mine.get(m.message_id)
        if now is None:
            raise _fail("record", f"the record shows message {m.message_id} the workflow does not have")
        if m.outcome != "waiting" and m.outcome != now.outcome:
            raise _fail("record", f"message {m.message_id}: record {m.outcome}, workflow {now.outcome}")


def check_messages(ledger: Ledger, view: ApplicationView) -> None:
    """No acknowledged message dropped: each is in the view once, with its first amount, and
    an outcome that only moves forward (waiting -> applied | repeat | kept)."""
    seen: dict[str, MessageOutcome] = {}
    for m in view.messages:
        if m.message_id in seen:
            raise _fail("messages", f"message {m.message_id} is in the view twice")
        seen[m.message_id] = m
    for mid, sent in ledger.sent.items():
        found = seen.get(mid)
        if found is None:
            raise _fail("messages", f"{sent.kind} {mid} was acknowledged and is not in the view (dropped)")
        m = found
        if m.kind != sent.kind:
            raise _fail("messages", f"{mid} is a {sent.kind}, the view says {m.kind}")
        if sent.amount is not None and m.amount != sent.amount:
            raise _fail("messages", f"{mid}: sent {sent.amount}, the view holds {m.amount}")
        if sent.expected is not None and m.outcome != sent.expected:
            raise _fail("messages", f"{sent.kind} {mid} should be {sent.expected}, is {m.outcome} ({m.note})")
        if sent.misdirected and m.outcome != "kept":
            raise _fail("messages", f"misdirected payment {mid} was {m.outcome}, not kept for a person")
        before = ledger.outcomes.get(mid)
        if before is not None and before != "waiting" and before != m.outcome:
            raise _fail("messages", f"{mid} went from {before} to {m.outcome}")
        ledger.outcomes[mid] = m.outcome
    for mid, m in seen.items():
        if mid not in ledger.sent and mid not in ledger.pending_supplier:
            raise _fail("messages", f"the view holds {m.kind} {mid} that was never acknowledged")
    for mid, m in seen.items():
        if m.outcome == "kept":
            flagged = [a.key for a in view.attention if a.key.endswith(f":{mid}")]
            if not flagged and not any(k.endswith(f":{mid}") for k in ledger.acknowledged):
                raise _fail("attention", f"{mid} was kept for a person without a flag ({m.note})")


def check_money(ledger: Ledger, view: ApplicationView, fakes: ModelSystems) -> None:
    """Money conserved to the fen: what came in = penalty + interest + principal + surplus +
    kept for ops + still waiting; the view's totals are the sum of the splits, and the bank's
    ledger booked exactly the applied ones."""
    paid_in = applied = kept = waiting = ZERO
    totals = {"penalty": ZERO, "interest": ZERO, "principal": ZERO, "surplus": ZERO}
    recovered = ZERO
    booked: dict[str, MessageOutcome] = {}
    for m in view.messages:
        if m.kind not in MONEY_KINDS:
            continue
        assert m.amount is not None
        paid_in += m.amount
        if m.outcome == "applied":
            parts = {"penalty": m.penalty, "interest": m.interest, "principal": m.principal, "surplus": m.surplus}
            if any(v is None or v < 0 for v in parts.values()):
                raise _fail("money", f"{m.message_id} applied with a missing or negative part: {parts}")
            split = sum((v for v in parts.values() if v is not None), ZERO)
            if split != m.amount:
                raise _fail("money", f"{m.message_id} of {m.amount} split into {split}: {parts}")
            for k, v in parts.items():
                totals[k] += v or ZERO
            applied += m.amount
            if m.applied_as == "recovery":
                recovered += m.amount - (m.surplus or ZERO)
            source = "supplier" if m.kind == "supplier_repayment" else (m.applied_as or "treasury")
            booked[f"{ledger.application_id}:{source}:{m.message_id}"] = m
        elif m.outcome == "kept":
            kept += m.amount
        elif m.outcome == "waiting":
            waiting += m.amount
        else:
            raise _fail("money", f"money {m.message_id} has outcome {m.outcome}")
    if paid_in != applied + kept + waiting:
        raise _fail("money", f"paid in {paid_in} != applied {applied} + kept {kept} + waiting {waiting}")
    shown = {
        "penalty": view.penalty_paid,
        "interest": view.interest_paid,
        "principal": view.principal_repaid,
        "surplus": view.surplus_released,
    }
    if shown != totals:
        raise _fail("money", f"the view's totals {shown} are not the sum of the applied splits {totals}")
    if view.recovered_amount != recovered:
        raise _fail("money", f"recovered {view.recovered_amount}, the recoveries applied make {recovered}")
    bank = {k: o for k, o in fakes.repayments.items() if k.startswith(f"{ledger.application_id}:")}
    if set(bank) != set(booked):
        raise _fail("ledger", f"the bank booked {sorted(bank)}, the view applied {sorted(booked)}")
    for key, order in bank.items():
        m = booked[key]
        a = order.allocation
        if (a.amount, a.penalty, a.interest, a.principal, a.surplus) != (
            m.amount,
            m.penalty,
            m.interest,
            m.principal,
            m.surplus,
        ):
            raise _fail("ledger", f"{key}: the bank booked {a}, the view shows {m}")
    if view.approved_amount is not None and view.disbursed_on is not None:
        if view.principal_repaid > view.approved_amount:
            raise _fail("money", f"principal repaid {view.principal_repaid} > lent {view.approved_amount}")
        if view.outstanding_principal != view.approved_amount - view.principal_repaid:
            raise _fail("money", f"outstanding {view.outstanding_principal} != lent - repaid")
        if view.surplus_released > 0 and view.outstanding_principal != ZERO:
            raise _fail("money", f"surplus {view.surplus_released} released while principal is still owed")
    elif applied != ZERO:
        raise _fail("money", f"{applied} applied without a loan")


def check_payouts(ledger: Ledger, view: ApplicationView, fakes: ModelSystems) -> None:
    """At most one payout; a loan has exactly one; a withdrawn or cancelled financing none."""
    payouts = len(fakes.payouts)
    if payouts > 1:
        raise _fail("payout", f"{payouts} payouts: {list(fakes.payouts)}")
    if view.disbursed_on is not None and payouts != 1:
        raise _fail("payout", "a loan without a payout at the bank")
    if ledger.interrupted and payouts:
        raise _fail("payout", "paid out after a withdrawal or cancellation was accepted")
    if payouts and ledger.lock_answer(view) != "confirmed":
        raise _fail("payout", "paid out without the purchaser's confirmation")


# -------------------------------------------------------------------- once settled


def check_settled(ledger: Ledger, view: ApplicationView, fakes: ModelSystems, now: datetime, *, closed: bool) -> None:
    """Nothing moves any more: what can still happen needs a message or a deadline, and every
    deadline that passed was acted on."""
    stage, answer = view.stage, ledger.lock_answer(view)
    waiting = [m.message_id for m in view.messages if m.outcome == "waiting"]
    if any(m.kind == "account_change" for m in view.messages if m.outcome == "waiting"):
        raise _fail("messages", "a purchaser's answer waits")
    if waiting and (view.disbursed_on is not None or stage.is_final):
        raise _fail("messages", f"money waits although it can be applied or kept: {waiting}")
    if stage == S.BANK_REVIEW and (ledger.decision is not None or ledger.interrupted):
        raise _fail("stuck", f"bank_review after the decision {ledger.decision} / interruption")
    if stage == S.ACCOUNT_LOCK and (answer is not None or ledger.interrupted):
        raise _fail("stuck", f"account_lock after the purchaser's answer {answer} / interruption")
    if stage == S.DISBURSING:
        raise _fail("stuck", "disbursing with no payout in flight")
    if stage in (S.REPAYING, S.OVERDUE) and view.outstanding_principal == ZERO:
        raise _fail("stuck", f"{stage} with the loan repaid")
    if stage == S.OVERDUE and ledger.write_off:
        raise _fail("stuck", "overdue with a write-off accepted")
    if stage in (S.BANK_REVIEW, S.ACCOUNT_LOCK) and view.stage_deadline is not None and now >= view.stage_deadline:
        raise _fail("deadline", f"{stage} past its expiry {view.stage_deadline} (now {now})")
    if stage == S.REPAYING and view.maturity_date is not None:
        overdue_from = view.maturity_date + timedelta(days=4)  # the product's 3 grace days
        if now >= start_of_business_day(overdue_from) + timedelta(seconds=1):
            raise _fail("deadline", f"still repaying on {now}, overdue from {overdue_from}")
    if fakes.payouts and view.disbursed_on is None and steps.DISBURSE not in ledger.refused_steps:
        raise _fail("payout", f"the bank paid out and the financing forgot it ({stage}: {view.final_reason})")
    if stage.is_final and not (stage == S.WRITTEN_OFF and not closed):
        check_undone(ledger, view, fakes)


def check_ended(view: ApplicationView, record: ApplicationView | None, *, exact: bool = True) -> None:
    """The workflow completed: its record is where it ended (what readers see from now on).
    `exact`: and it shows all of it (model finding 2: not while a refused closing task's record
    stands — then stage and version only)."""
    if record is None:
        return  # ended during verification: never recorded
    if (record.stage, record.version) != (view.stage, view.version):
        raise _fail(
            "record",
            f"the workflow ended {view.stage} (version {view.version}), its record stays "
            f"{record.stage} (version {record.version})",
        )
    written, ended = without_instants(record), without_instants(view)
    if exact and written != ended:
        raise _fail(
            "record", f"the record differs from the end: {sorted(k for k in written if written[k] != ended[k])}"
        )


def without_instants(view: ApplicationView) -> dict[str, object]:
    """The view without the instants it took from `workflow.now()`: a workflow task whose
    completion the server refused has already written its record; the task runs again at a
    later `workflow.now()` and writes the same version, which the versioned upsert ignores."""
    shown = view.model_dump()
    shown.pop("stage_since")
    shown.pop("stage_deadline")
    for entry in shown["timeline"]:
        entry.pop("at")
    for m in shown["messages"]:
        m.pop("received_at")
        m.pop("applied_at")
    return shown


def check_undone(ledger: Ledger, view: ApplicationView, fakes: ModelSystems) -> None:
    """A financing that ended (settled, or before any payout) holds nothing any more; a
    written-off one keeps the contract until its claim is recovered."""
    no = ledger.contract_no
    holds = {
        "registration": fakes.registry.get(no) == ledger.application_id,
        "treasury lock": fakes.treasury_locks.get(no) == COLLECTION_ACCOUNT,
        "payee account": fakes.payee.get(no) != fakes.contracts[no].payee_account_no,
    }
    if view.stage == S.WRITTEN_OFF:
        claim = view.outstanding_principal + view.interest_due + view.penalty_due
        if claim > 0:
            missing = [k for k, v in holds.items() if not v]
            if missing:
                raise _fail("undo", f"written off with {claim} owed, yet released: {missing}")
            return
    still = [k for k, v in holds.items() if v]
    if still:
        raise _fail("undo", f"{view.stage} ({view.final_reason}) and still holding: {still}")
    if view.disbursed_on is None and view.stage != S.REJECTED and fakes.calls[steps.SUBMIT_FOR_REVIEW]:
        if fakes.reviews.get(ledger.application_id) != "cancelled":
            raise _fail("undo", f"{view.stage} before payout and the bank's review was not cancelled")
