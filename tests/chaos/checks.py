"""The checks of a chaos run: pure functions from what was sent and what every record says to
findings, each a line a person can follow up (with payment and application ids).

- lost: a payment the platform answered (202) that is neither credited nor kept for ops;
- double: money credited twice, a second payout, a second application for one submission;
- stuck: a loan still active after the settle-down;
- mismatches: everything else that disagrees — a wrong final stage, interest or surplus off
  by a fen from domain/repayment.py, ledger ≠ bank ≠ views ≠ /v1/stats, inbox ≠ notices sent,
  a payment into the locked account that was not accepted, a bank's retry with the same
  Idempotency-Key refused although its first attempt had been applied;
- leaks: a key, secret or full account number in a process log.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from demo.reconciliation import LoanRecord, reconcile
from domain.money import ZERO
from domain.repayment import allocate, apply_allocation, open_balance
from domain.stages import FINAL_STAGES
from outside_world.money import loan_terms
from tests.chaos.driver import Loan
from tests.chaos.evidence import ALLOCATION_LEGS, Evidence
from tests.chaos.outside_world import Sent
from tests.chaos.scenarios import APPROVED, DISBURSED


@dataclass
class Findings:
    stages: Counter[str] = field(default_factory=Counter)
    payouts: Counter[int] = field(default_factory=Counter)  # payouts per disbursed loan -> loans
    credited: int = 0  # payments and repayments credited exactly once
    kept: int = 0  # payments kept for ops, as they should be (into a wrong account)
    lost: list[str] = field(default_factory=list)
    double: list[str] = field(default_factory=list)
    stuck: list[str] = field(default_factory=list)
    mismatches: list[str] = field(default_factory=list)
    leaks: list[str] = field(default_factory=list)

    @property
    def failed(self) -> bool:
        return bool(self.lost or self.double or self.stuck or self.mismatches or self.leaks)


def check(loans: list[Loan], sent: Sent, evidence: Evidence, secrets: dict[str, str]) -> Findings:
    found = Findings()
    by_contract = {loan.plan.contract_no: loan for loan in loans}
    check_stages(loans, evidence, found)
    check_payouts(loans, evidence, found)
    check_payments(sent, evidence, by_contract, found)
    check_money(loans, evidence, found)
    check_records(loans, evidence, found)
    check_inbox(sent, evidence, found)
    found.mismatches += sent.replays_refused  # API.md v1.1: the same key gets the first answer again
    check_workflow_tasks(evidence, found)
    check_logs(evidence, secrets, [acc for loan in loans for acc in accounts(loan)], found)
    return found


def accounts(loan: Loan) -> tuple[str, str]:
    return loan.plan.collection_account, loan.plan.supplier_account


def application_of(loan: Loan, evidence: Evidence) -> dict[str, Any] | None:
    ids = evidence.applications_by_contract.get(loan.plan.contract_no, [])
    return evidence.views.get(ids[0]) if ids else None


def check_stages(loans: list[Loan], evidence: Evidence, found: Findings) -> None:
    for loan in loans:
        plan = loan.plan
        ids = evidence.applications_by_contract.get(plan.contract_no, [])
        if len(ids) > 1:
            found.double.append(f"{plan.contract_no}: one submission (one Idempotency-Key) made applications {ids}")
        view = application_of(loan, evidence)
        if view is None:
            found.stuck.append(f"{plan.contract_no} ({plan.scenario}): no application ({loan.stuck_at})")
            continue
        stage = view["stage"]
        found.stages[stage] += 1
        where = f"{view['application_id']} ({plan.contract_no}, {plan.scenario})"
        if stage not in FINAL_STAGES:
            attention = "; ".join(view.get("attention_reasons") or []) or "no attention flag"
            found.stuck.append(f"{where}: still {stage} ({attention}); driver: {loan.stuck_at or 'done'}")
        elif stage != plan.expected_stage:
            found.mismatches.append(
                f"{where}: ended {stage}, expected {plan.expected_stage} ({view.get('final_reason')})"
            )


def check_payouts(loans: list[Loan], evidence: Evidence, found: Findings) -> None:
    for loan in loans:
        plan = loan.plan
        payouts = evidence.disbursements.get(plan.contract_no, [])
        view = application_of(loan, evidence)
        disbursed = view is not None and view.get("disbursed_on") is not None
        if disbursed:
            found.payouts[len(payouts)] += 1
        where = f"{view['application_id'] if view else '-'} ({plan.contract_no})"
        if len(payouts) > 1:
            ids = [p["disbursement_id"] for p in payouts]
            found.double.append(f"{where}: the bank paid out {len(payouts)} times {ids}")
        elif disbursed and not payouts:
            found.mismatches.append(f"{where}: disbursed on the platform, no payout at the bank")
        elif not disbursed and payouts:
            found.mismatches.append(f"{where}: the bank paid out, the platform shows no disbursement")
        elif payouts and Decimal(payouts[0]["amount"]) != plan.approved:
            found.mismatches.append(f"{where}: the bank paid out {payouts[0]['amount']}, approved {plan.approved}")
        if plan.scenario in DISBURSED and not disbursed and view is not None and view["stage"] in FINAL_STAGES:
            found.mismatches.append(f"{where}: meant to be disbursed, ended {view['stage']} without a payout")


def credits_of(source_id: str, evidence: Evidence) -> tuple[int, int]:
    """How many times the bank captured it, how many ledger postings booked it."""
    at_bank = sum(1 for items in evidence.bank_repayments.values() for r in items if r["source_id"] == source_id)
    in_ledger = sum(1 for p in evidence.postings if p.kind == "repayment" and p.source_id == source_id)
    return at_bank, in_ledger


def flagged_on_application(payment_id: str, view: dict[str, Any] | None) -> bool:
    if view is None:
        return False
    texts = list(view.get("attention_reasons") or []) + [str(a.get("key")) for a in view.get("attention") or []]
    texts += [str(entry) for entry in view.get("timeline") or []]
    return any(payment_id in text for text in texts)


def check_payments(sent: Sent, evidence: Evidence, by_contract: dict[str, Loan], found: Findings) -> None:
    for payment_id, notice in sorted(sent.notices.items()):
        loan = by_contract.get(notice.contract_no)
        view = application_of(loan, evidence) if loan else None
        app = view["application_id"] if view else "-"
        where = f"payment {payment_id} ({app}, {notice.amount})"
        at_bank, in_ledger = credits_of(payment_id, evidence)
        promised = notice.answered or payment_id in evidence.inbox_payments
        kept = evidence.kept_for_ops.get(payment_id)
        if at_bank != in_ledger:
            found.mismatches.append(f"{where}: captured {at_bank}× at the bank, booked {in_ledger}× in the ledger")
        if max(at_bank, in_ledger) > 1:
            found.double.append(f"{where}: credited {max(at_bank, in_ledger)} times")
            continue
        if not notice.to_locked_account:
            if at_bank or in_ledger:
                found.mismatches.append(
                    f"{where}: into {_masked(notice.payee_account_no)}, not the locked account, yet credited"
                )
            elif kept is None:
                (found.lost if promised else found.mismatches).append(
                    f"{where}: into a wrong account, answered {notice.answers}, neither credited nor listed for ops"
                )
            elif kept.get("status") != "misdirected":
                found.mismatches.append(f"{where}: into a wrong account, kept for ops as {kept.get('status')}")
            else:
                found.kept += 1
            continue
        if at_bank == 1:
            found.credited += 1
            if notice.first_status not in ("accepted", "duplicate"):
                found.mismatches.append(f"{where}: credited, but the treasury was told {notice.first_status}")
            continue
        if kept is not None or flagged_on_application(payment_id, view):
            # kept for ops: nothing is lost, but a payment into the locked account of a paid-out
            # loan must be accepted and applied (API.md v1.1), not parked
            status = kept.get("status") if kept else "flagged"
            found.mismatches.append(
                f"{where}: into the locked account, answered {notice.answers}, kept for ops as {status}, not credited"
            )
        elif promised:
            found.lost.append(
                f"{where}: answered {notice.answers}, inbox {_inbox(payment_id, evidence)}, never credited, "
                f"not listed for ops; application {app} {view['stage'] if view else '?'}, "
                f"needs_attention={view.get('needs_attention') if view else '?'}"
            )
        else:
            found.mismatches.append(f"{where}: the platform never answered the treasury ({notice.answers})")
    for repayment_id, (app_id, amount, status) in sorted(sent.supplier_repayments.items()):
        at_bank, in_ledger = credits_of(repayment_id, evidence)
        where = f"supplier repayment {repayment_id} ({app_id}, {amount})"
        if max(at_bank, in_ledger) > 1:
            found.double.append(f"{where}: credited {max(at_bank, in_ledger)} times")
        elif at_bank != in_ledger:
            found.mismatches.append(f"{where}: captured {at_bank}× at the bank, booked {in_ledger}× in the ledger")
        elif at_bank == 0:
            found.lost.append(f"{where}: answered {status}, never credited")
        else:
            found.credited += 1


def _inbox(payment_id: str, evidence: Evidence) -> str:
    row = evidence.inbox_payments.get(payment_id)
    if row is None:
        return "none"
    return f"{row['status']}, delivered={'yes' if row['delivered_at'] else 'no'}"


def _masked(account_no: str) -> str:
    return f"…{account_no[-4:]}"


def check_money(loans: list[Loan], evidence: Evidence, found: Findings) -> None:
    """Each credit allocated to the fen by domain/repayment.py, in the order the bank captured
    them, and the application's totals equal to the result."""
    for loan in loans:
        view = application_of(loan, evidence)
        if view is None or view.get("disbursed_on") is None:
            continue
        app_id = view["application_id"]
        terms = loan_terms(loan.plan.approved, view)
        balance = open_balance(terms)
        for captured in evidence.bank_repayments.get(app_id, []):
            expected = allocate(
                terms, balance, Decimal(captured["amount"]), date.fromisoformat(captured["paid_on"]), overdue=False
            )
            for leg in ALLOCATION_LEGS:
                if Decimal(captured[leg]) != getattr(expected, leg):
                    found.mismatches.append(
                        f"{app_id} {captured['source_id']}: {leg} {captured[leg]}, "
                        f"the rules give {getattr(expected, leg)}"
                    )
            balance = apply_allocation(balance, expected)
        shown = {
            "interest_paid": balance.interest_paid,
            "penalty_paid": balance.penalty_paid,
            "principal_repaid": balance.principal_repaid,
            "surplus_released": balance.surplus_released,
            "outstanding_principal": balance.outstanding_principal,
        }
        for name, amount in shown.items():
            if Decimal(view[name]) != amount:
                found.mismatches.append(f"{app_id}: {name} {view[name]}, the bank's captures give {amount}")
        if (view["stage"] == "settled") != balance.is_repaid:
            found.mismatches.append(f"{app_id}: stage {view['stage']} with {balance.outstanding_principal} outstanding")


def check_records(loans: list[Loan], evidence: Evidence, found: Findings) -> None:
    """Ledger = bank simulator = application views = /v1/stats."""
    postings_of: dict[str, list[Any]] = {}
    for posting in evidence.postings:
        postings_of.setdefault(posting.application_id, []).append(posting)
    records = []
    for loan in loans:
        view = application_of(loan, evidence)
        if view is None:
            continue
        app_id = view["application_id"]
        payouts = evidence.disbursements.get(loan.plan.contract_no, [])
        mine = postings_of.get(app_id, [])
        booked_out = sum((p.legs["disbursed"] for p in mine if p.kind == "disbursement"), ZERO)
        if booked_out != sum((Decimal(p["amount"]) for p in payouts), ZERO):
            found.mismatches.append(f"{app_id}: ledger disbursed {booked_out}, the bank paid out {payouts}")
        captured = {r["source_id"]: r for r in evidence.bank_repayments.get(app_id, [])}
        for posting in (p for p in mine if p.kind == "repayment"):
            at_bank = captured.get(posting.source_id or "")
            for leg in ALLOCATION_LEGS:
                if at_bank is None or Decimal(at_bank[leg]) != posting.legs[leg]:
                    found.mismatches.append(
                        f"{app_id} {posting.source_id}: ledger {leg} {posting.legs[leg]}, "
                        f"the bank {at_bank[leg] if at_bank else 'nothing'}"
                    )
        for leg, field_name in (
            ("interest", "interest_paid"),
            ("principal", "principal_repaid"),
            ("surplus", "surplus_released"),
            ("penalty", "penalty_paid"),
        ):
            total = sum((p.legs[leg] for p in mine if p.kind == "repayment"), ZERO)
            if total != Decimal(view[field_name]):
                found.mismatches.append(f"{app_id}: ledger {leg} {total}, the application {view[field_name]}")
        records.append(
            LoanRecord(
                application_id=app_id,
                contract_no=loan.plan.contract_no,
                bank_code=loan.plan.bank_code,
                district=loan.plan.purchaser[2],
                stage=view["stage"],
                expected_stage=None,  # judged by check_stages
                demo_approved=loan.plan.approved if loan.plan.scenario in APPROVED else None,
                approved=_money(view["approved_amount"]),
                disbursed_on=view["disbursed_on"],
                outstanding=Decimal(view["outstanding_principal"]),
                principal_repaid=Decimal(view["principal_repaid"]),
                interest_paid=Decimal(view["interest_paid"]),
                surplus_released=Decimal(view["surplus_released"]),
                bank_disbursements=[Decimal(p["amount"]) for p in payouts],
            )
        )
    found.mismatches += reconcile(records, evidence.stats_before, evidence.stats_after)


def _money(value: str | None) -> Decimal | None:
    return None if value is None else Decimal(value)


def check_inbox(sent: Sent, evidence: Evidence, found: Findings) -> None:
    """One inbox row per notice the platform answered, with the status it answered; every
    accepted row delivered to its workflow; no row nobody sent."""
    for payment_id, notice in sent.notices.items():
        row = evidence.inbox_payments.get(payment_id)
        if notice.answered and row is None:
            found.mismatches.append(f"payment {payment_id}: answered {notice.answers}, no inbox row")
        elif row is not None and notice.first_status not in (None, "duplicate", row["status"]):
            found.mismatches.append(f"payment {payment_id}: answered {notice.first_status}, inbox says {row['status']}")
    for payment_id, row in evidence.inbox_payments.items():
        if payment_id not in sent.notices:
            found.mismatches.append(f"inbox row {payment_id}: no such notice was sent")
        elif row["status"] != "unmatched" and row["delivered_at"] is None:
            found.mismatches.append(f"inbox row {payment_id} ({row['status']}): never delivered to its workflow")
    for event_id, event in sent.events.items():
        row = evidence.inbox_events.get(event_id)
        first = next((a for a in event.answers if a is not None), None)
        if first is not None and row is None:
            found.mismatches.append(f"event {event_id} ({event.contract_no}): answered {first}, no inbox row")
        elif row is not None and first not in (None, "duplicate", row["status"]):
            found.mismatches.append(f"event {event_id}: answered {first}, inbox says {row['status']}")
        if row is not None and row["status"] == "unmatched":
            found.mismatches.append(f"event {event_id} ({event.contract_no}, {event.decision}): unmatched, not taken")
    for event_id in evidence.inbox_events.keys() - sent.events.keys():
        found.mismatches.append(f"inbox event {event_id}: no such callback was sent")


NON_DETERMINISM = "[TMPRL1100]"  # the SDK's code for a workflow task failed as non-deterministic


def check_workflow_tasks(evidence: Evidence, found: Findings) -> None:
    """A workflow that cannot replay its own history is stuck, whatever its stage says."""
    for name, text in evidence.logs.items():
        count = text.count(NON_DETERMINISM)
        if count:
            found.mismatches.append(f"{name}: {count} workflow task(s) failed as non-deterministic ({NON_DETERMINISM})")


def check_logs(evidence: Evidence, secrets: dict[str, str], account_numbers: list[str], found: Findings) -> None:
    """No key, secret or full account number in any process log (named, never shown)."""
    needles = {**secrets, **{f"account number …{acc[-4:]}": acc for acc in account_numbers}}
    for name, text in evidence.logs.items():
        for what, value in needles.items():
            count = text.count(value)
            if count:
                found.leaks.append(f"{name}: {what} ({count}×)")
