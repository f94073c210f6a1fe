"""Waiting in a stage with its deadlines: past the attention deadline a person is asked to
look (flag), past the expiry the process gives up. One timer serves the nearer deadline."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from domain.application import FinancingInput
    from domain.working_days import end_of_working_days

from workflows.financing import saga
from workflows.financing.process import Process


def review_deadlines(inp: FinancingInput, handed_over: datetime) -> tuple[datetime, datetime]:
    """(attention, expiry) of a review handed to the bank at `handed_over`: past the product's
    `review_sla_days` working days a person is asked to look; the review expires
    `review_expiry_days` calendar days after the hand-over, never before the SLA passed.

    The working days are those of the State Council calendar on the start input, so a later
    calendar package never moves a deadline on replay. The input decides the rule, and it is
    in the history: a financing started before the calendar was passed (none on its input)
    replays with the calendar days it counted then — the same commands, no patch marker (a
    `workflow.patched` would cost two events per loan: the marker and the SDK's
    TemporalChangeVersion upsert). docs/versioning.md, "Changes chosen by the start input"."""
    sla_days = inp.product.review_sla_days if inp.product else 7
    if inp.calendar is None:
        attention_at = handed_over + timedelta(days=sla_days)
    else:
        attention_at = end_of_working_days(inp.calendar, handed_over, sla_days)
    expiry_at = max(handed_over + timedelta(days=max(inp.deadlines.review_expiry_days, sla_days)), attention_at)
    return attention_at, expiry_at


async def wait_in_stage(p: Process, done: Callable[[], bool], *, attention: str) -> bool:
    """Wait until `done()`; False once the stage's expiry passed. A withdrawal or cancellation
    ends the wait and the process. Ops may move the deadlines while this waits; a handler may
    change what readers see (it records it itself, or asks here through `changed`)."""
    state, deadlines = p.state, p.state.deadlines
    while True:
        if state.interrupted:
            await saga.end_interrupted(p)
        if done():
            p.unflag("deadline")
            return True
        now = workflow.now()
        if deadlines.expiry_at is not None and now >= deadlines.expiry_at:
            return False
        if deadlines.attention_at is not None and now >= deadlines.attention_at and "deadline" not in state.attention:
            p.flag("deadline", f"{attention} (deadline {deadlines.attention_at:%Y-%m-%d %H:%M} UTC passed)")
            continue
        await p.record(f"waiting in {state.stage}")
        upcoming = [
            t
            for t in (deadlines.attention_at if "deadline" not in state.attention else None, deadlines.expiry_at)
            if t is not None
        ]
        deadlines.moved = False
        try:
            await workflow.wait_condition(
                lambda: done() or state.interrupted or deadlines.moved,
                timeout=(min(upcoming) - now) if upcoming else None,
                timeout_summary=f"{state.stage} deadline",
            )
        except TimeoutError:
            pass
