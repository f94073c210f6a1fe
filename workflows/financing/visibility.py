"""How a financing shows itself: search attributes (upserted only when what they show
changes) and the current details the Temporal UI displays as its case file."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from temporalio import workflow
from temporalio.common import SearchAttributeKey, SearchAttributeUpdate

with workflow.unsafe.imports_passed_through():
    from domain.application import FinancingInput

from workflows import search_attributes as sa
from workflows.financing.state import FinancingState


def wanted_attributes(state: FinancingState, inp: FinancingInput) -> dict[str, Any]:
    wanted: dict[str, Any] = {
        sa.STAGE.name: state.stage.value,
        sa.BANK.name: inp.bank_code,
        sa.CONTRACT.name: inp.request.contract_no,
        sa.STAGE_SINCE.name: state.stage_since,
        sa.NEEDS_ATTENTION.name: bool(state.attention),
    }
    if state.verification.district:
        wanted[sa.DISTRICT.name] = state.verification.district
    return wanted


def attributes_at_start() -> dict[str, Any]:
    """What the starter set (the API sets stage, bank, contract, stage-since and the flag at
    start): read from the start event, so it is the same on every replay."""
    shown: dict[str, Any] = {}
    typed = workflow.info().typed_search_attributes
    for key in sa.ALL_KEYS:
        value = typed.get(key)
        if value is not None:
            shown[key.name] = value
    return shown


_KEYS: dict[str, SearchAttributeKey[Any]] = {key.name: key for key in sa.ALL_KEYS}


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, datetime) and isinstance(b, datetime):
        return abs((a - b).total_seconds()) < 0.001  # the server keeps milliseconds
    return bool(a == b)


def show(state: FinancingState, inp: FinancingInput, shown: dict[str, Any]) -> None:
    """Upsert the search attributes whose value changed (one history event per change of
    what ops filter on, none otherwise), and refresh the current details."""
    wanted = wanted_attributes(state, inp)
    updates: list[SearchAttributeUpdate[Any]] = [
        _KEYS[name].value_set(value)
        for name, value in wanted.items()
        if name not in shown or not _same(shown[name], value)
    ]
    if updates:
        workflow.upsert_search_attributes(updates)
        shown.update(wanted)
    describe(state, inp)


def describe(state: FinancingState, inp: FinancingInput) -> None:
    """What the process waits for and until when, in the Temporal UI's current details."""
    request = inp.request
    where = " · ".join(
        part for part in (inp.bank_code, state.verification.district, f"contract {request.contract_no}") if part
    )
    if state.closed or (state.stage.is_final and not state.waiting_for):
        lines = [f"**{state.stage}** — {state.final_reason or ''}".rstrip(" —"), where]
    else:
        lines = [
            f"**{state.stage}** since {state.stage_since:%Y-%m-%d %H:%M} UTC",
            f"{where} · {request.requested_amount:,.2f} requested",
        ]
    deadlines = state.deadlines
    if state.waiting_for:
        lines.append(f"Waiting for {state.waiting_for}.")
        if deadlines.attention_at is not None and "deadline" not in state.attention:
            lines.append(f"Needs a person after {deadlines.attention_at:%Y-%m-%d %H:%M} UTC.")
        if deadlines.expiry_at is not None:
            lines.append(f"Gives up at {deadlines.expiry_at:%Y-%m-%d %H:%M} UTC (then undoes what was done).")
    lines += [f"⚠ {reason}" for reason in state.attention.values()]
    workflow.set_current_details("\n\n".join(lines))
