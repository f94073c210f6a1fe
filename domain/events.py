"""The events banks and ops follow (API.md v1.1 "Events"), derived from two successive records
of an application: what the newer one shows that the older did not.

The record is written once per version and only forward (a versioned upsert), and the events of
a write are stored in the same transaction, so every change of stage and every repayment
appears exactly once, in the order it happened, before any read shows it. A write may carry
several changes at once (records coalesce): the stage changes come from the timeline, which
keeps every stage the process entered, so none is skipped.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel

from domain.application import ApplicationView, MessageOutcome, TimelineEntry
from domain.money import money_str

EventType = Literal[
    "application.submitted",
    "application.stage_changed",
    "loan.disbursed",
    "repayment.applied",
    "application.attention",
    "payment.misdirected",
]
# within one instant (a workflow task has one clock), the order a reader expects: the payout
# before the stage it opens, a repayment before the settlement it causes, attention last
_RANK: dict[str, int] = {
    "application.submitted": 0,
    "loan.disbursed": 1,
    "repayment.applied": 2,
    "payment.misdirected": 3,
    "application.stage_changed": 4,
    "application.attention": 5,
}


class NewEvent(BaseModel):
    type: EventType
    at: datetime
    data: dict[str, Any]


def _stages(view: ApplicationView | None) -> list[TimelineEntry]:
    return [entry for entry in (view.timeline if view else []) if entry.note is None]


def _money(outcome: MessageOutcome) -> dict[str, Any]:
    def fen(value: Any) -> str | None:
        return money_str(value) if value is not None else None

    return {
        "source": outcome.applied_as,
        "source_id": outcome.message_id,
        "amount": fen(outcome.amount),
        "penalty": fen(outcome.penalty),
        "interest": fen(outcome.interest),
        "principal": fen(outcome.principal),
        "surplus": fen(outcome.surplus),
    }


def derive_events(before: ApplicationView | None, after: ApplicationView) -> list[NewEvent]:
    """What `after` shows that `before` (the stored record, None for the first) did not."""
    events: list[NewEvent] = []
    data: dict[str, Any]
    old_stages, new_stages = _stages(before), _stages(after)
    if before is None:
        submitted = after.submitted_at or (new_stages[0].at if new_stages else datetime.now().astimezone())
        data = {"requested_amount": money_str(after.requested_amount)}
        events.append(NewEvent(type="application.submitted", at=submitted, data=data))
    previous = old_stages[-1].stage if old_stages else None
    for entry in new_stages[len(old_stages) :]:
        if previous is not None and entry.stage != previous:
            reason = after.final_reason if entry.stage.is_final and entry.stage == after.stage else None
            data = {"from": previous.value, "to": entry.stage.value, "reason": reason}
            events.append(NewEvent(type="application.stage_changed", at=entry.at, data=data))
        previous = entry.stage
    if after.disbursed_on is not None and (before is None or before.disbursed_on is None):
        payout_at = next((e.at for e in new_stages if e.stage.value == "repaying"), new_stages[-1].at)
        data = {
            "amount": money_str(after.approved_amount) if after.approved_amount is not None else None,
            "disbursement_id": after.disbursement_id,
            "disbursed_on": after.disbursed_on.isoformat(),
            "maturity_date": after.maturity_date.isoformat() if after.maturity_date else None,
        }
        events.append(NewEvent(type="loan.disbursed", at=payout_at, data=data))
    seen = {(m.kind, m.message_id): m for m in (before.messages if before else [])}
    for outcome in after.messages:
        old = seen.get((outcome.kind, outcome.message_id))
        newly_applied = old is None or old.outcome != "applied"
        if outcome.outcome == "applied" and outcome.applied_at is not None and newly_applied:
            events.append(NewEvent(type="repayment.applied", at=outcome.applied_at, data=_money(outcome)))
    old_flags = {item.key for item in (before.attention if before else [])}
    for item in after.attention:
        if item.key.startswith("misdirected:") and item.key not in old_flags:
            payment_id = item.key.removeprefix("misdirected:")
            found = next((m for m in after.messages if m.message_id == payment_id), None)
            amount = money_str(found.amount) if found is not None and found.amount is not None else None
            at = found.received_at if found is not None else new_stages[-1].at
            data = {"payment_id": payment_id, "amount": amount}
            events.append(NewEvent(type="payment.misdirected", at=at, data=data))
    was = (before.needs_attention, before.attention_reasons) if before else (False, [])
    if (after.needs_attention, after.attention_reasons) != was:
        # when a flag went up is not kept; the latest instant the record knows stands for it
        known = [e.at for e in events] + [t.at for t in after.timeline]
        latest = max(known) if known else after.stage_since or datetime.now().astimezone()
        data = {"needs_attention": after.needs_attention, "reasons": list(after.attention_reasons)}
        events.append(NewEvent(type="application.attention", at=latest, data=data))
    events.sort(key=lambda e: (e.at, _RANK[e.type]))
    return events
