"""Waiting in a stage with its deadlines: past the attention deadline a person is asked to
look (flag), past the expiry the process gives up. One timer serves the nearer deadline."""

from __future__ import annotations

from collections.abc import Callable

from temporalio import workflow

from workflows.financing import saga
from workflows.financing.process import Process


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
