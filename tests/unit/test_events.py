"""The events a record shows that the one before did not (domain/events.py)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from domain.application import ApplicationView, AttentionItem, MessageOutcome, TimelineEntry
from domain.events import derive_events
from domain.stages import Stage

T0 = datetime(2026, 11, 27, 2, 0, tzinfo=UTC)


def _view(stages: list[Stage], version: int, **fields: object) -> ApplicationView:
    timeline = [TimelineEntry(stage=s, at=T0 + timedelta(minutes=i)) for i, s in enumerate(stages)]
    values: dict[str, object] = {
        "application_id": "app-1",
        "contract_no": "WX-1",
        "bank_code": "ICBC",
        "product_code": "STD",
        "supplier_credit_code": "x",
        "stage": stages[-1],
        "requested_amount": Decimal("700000.00"),
        "submitted_at": T0,
        "timeline": timeline,
        "version": version,
    }
    values.update(fields)
    return ApplicationView.model_validate(values)


ORIGINATION = [Stage.VERIFYING, Stage.BANK_REVIEW]
LENT = [*ORIGINATION, Stage.ACCOUNT_LOCK, Stage.DISBURSING, Stage.REPAYING]


def test_the_first_record_says_submitted_then_every_stage_entered() -> None:
    events = derive_events(None, _view(ORIGINATION, 1))
    assert [e.type for e in events] == ["application.submitted", "application.stage_changed"]
    assert events[0].data == {"requested_amount": "700000.00"}
    assert events[1].data == {"from": "verifying", "to": "bank_review", "reason": None}


def test_a_record_that_coalesced_several_stages_lists_each_in_order() -> None:
    before = _view(ORIGINATION, 1)
    after = _view(
        LENT,
        3,
        approved_amount=Decimal("700000.00"),
        disbursed_on=date(2026, 11, 27),
        maturity_date=date(2027, 5, 26),
        disbursement_id="D-1",
    )
    events = derive_events(before, after)
    assert [(e.type, e.data.get("to")) for e in events] == [
        ("application.stage_changed", "account_lock"),
        ("application.stage_changed", "disbursing"),
        ("loan.disbursed", None),  # the payout before the stage it opens
        ("application.stage_changed", "repaying"),
    ]
    assert events[2].data == {
        "amount": "700000.00",
        "disbursement_id": "D-1",
        "disbursed_on": "2026-11-27",
        "maturity_date": "2027-05-26",
    }


def test_a_repayment_that_settles_comes_before_the_settlement_and_once() -> None:
    lent = _view(LENT, 3, disbursed_on=date(2026, 11, 27))
    paid_at = T0 + timedelta(minutes=9)
    applied = MessageOutcome(
        kind="treasury_payment",
        message_id="T-1",
        amount=Decimal("1000000.00"),
        received_at=paid_at,
        outcome="applied",
        applied_at=paid_at,
        applied_as="treasury",
        penalty=Decimal("0.00"),
        interest=Decimal("74.86"),
        principal=Decimal("700000.00"),
        surplus=Decimal("299925.14"),
    )
    settled = _view(LENT, 4, disbursed_on=date(2026, 11, 27), messages=[applied], final_reason="repaid in full")
    settled.timeline.append(TimelineEntry(stage=Stage.SETTLED, at=paid_at))
    settled = settled.model_copy(update={"stage": Stage.SETTLED})
    events = derive_events(lent, settled)
    assert [e.type for e in events] == ["repayment.applied", "application.stage_changed"]
    assert events[0].data == {
        "source": "treasury",
        "source_id": "T-1",
        "amount": "1000000.00",
        "penalty": "0.00",
        "interest": "74.86",
        "principal": "700000.00",
        "surplus": "299925.14",
    }
    assert events[1].data == {"from": "repaying", "to": "settled", "reason": "repaid in full"}
    assert derive_events(settled, settled.model_copy(update={"version": 5})) == []  # nothing new, nothing said


def test_a_misdirected_payment_and_the_flag_it_raises() -> None:
    lent = _view(LENT, 3, disbursed_on=date(2026, 11, 27))
    kept = MessageOutcome(
        kind="treasury_payment",
        message_id="T-9",
        amount=Decimal("5000.00"),
        received_at=T0 + timedelta(minutes=7),
        outcome="kept",
    )
    flagged = lent.model_copy(
        update={
            "version": 4,
            "messages": [kept],
            "needs_attention": True,
            "attention_reasons": ["went to another account"],
            "attention": [AttentionItem(key="misdirected:T-9", reason="went to another account")],
        }
    )
    events = derive_events(lent, flagged)
    assert [e.type for e in events] == ["payment.misdirected", "application.attention"]
    assert events[0].data == {"payment_id": "T-9", "amount": "5000.00"}
    assert events[1].data == {"needs_attention": True, "reasons": ["went to another account"]}
