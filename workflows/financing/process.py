"""The primitives every part of the financing uses: take a transition, flag for a person,
run one external step, and write the workflow's own record.

The record rule (orders-go's pattern): the read model in PostgreSQL is the workflow's
projection, written by the workflow itself through a local activity *after* it took the
transitions it shows — never by an activity ahead of the workflow. It is written whenever the
view changed and the process is about to wait (for an answer, a timer or an external call),
so readers never see a state the process will not reach, and an update answers only once
the record shows what it changed (read-your-writes).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from domain import steps
    from domain.application import ApplicationView, FinancingInput, TimelineEntry
    from domain.stages import Stage

from workflows.financing import visibility
from workflows.financing.policies import EXTERNAL_CALL, EXTERNAL_TIMEOUT, PAYOUT_HEARTBEAT, RECORD_RETRY, RECORD_TIMEOUT
from workflows.financing.state import FinancingState, to_view


class Ended(Exception):
    """Raised inside the workflow when the process reached a final stage: unwinds to `run`."""


class StepRefused(Exception):
    """An outside system refused a step (a non-retryable ApplicationError); `cause` has its code."""

    def __init__(self, cause: ApplicationError) -> None:
        super().__init__(str(cause))
        self.cause = cause


class Process:
    def __init__(self, inp: FinancingInput) -> None:
        self.inp = inp
        self.state = FinancingState.start(workflow.now())
        self.version = 0  # of the last record written or being written
        self.recorded: ApplicationView | None = None  # the last view handed to the record step
        self.written: ApplicationView | None = None  # the newest view the read model is known to hold
        self.shown = visibility.attributes_at_start()

    # ---------------------------------------------------------------- reading

    def view(self) -> ApplicationView:
        return to_view(self.state, self.inp, self.version)

    def changed(self) -> bool:
        """Readers would see something new: the view differs from the last one recorded."""
        return self.recorded is None or to_view(self.state, self.inp, self.recorded.version) != self.recorded

    # ---------------------------------------------------------------- transitions

    def enter(
        self,
        stage: Stage,
        *,
        waiting_for: str | None,
        attention_at: datetime | None = None,
        expiry_at: datetime | None = None,
    ) -> None:
        """Enter `stage` with its deadlines (a stage's deadline flag goes with the stage)."""
        self.state.deadlines.attention_at, self.state.deadlines.expiry_at = attention_at, expiry_at
        self.state.attention.pop("deadline", None)
        self.set_stage(stage, waiting_for=waiting_for)

    def set_stage(self, stage: Stage, *, waiting_for: str | None) -> None:
        state = self.state
        if stage != state.stage:
            state.stage = stage
            state.stage_since = workflow.now()
            state.timeline.append(TimelineEntry(stage=stage, at=state.stage_since))
        state.waiting_for = waiting_for
        visibility.describe(state, self.inp)

    def note(self, text: str) -> None:
        """A line in the timeline at the current stage (what a person did, what was kept)."""
        self.state.timeline.append(TimelineEntry(stage=self.state.stage, at=workflow.now(), note=text))

    def flag(self, key: str, reason: str) -> None:
        self.state.attention[key] = reason
        visibility.describe(self.state, self.inp)

    def unflag(self, key: str) -> None:
        if self.state.attention.pop(key, None) is not None:
            visibility.describe(self.state, self.inp)

    # ---------------------------------------------------------------- steps and the record

    async def step(
        self,
        activity: str,
        arg: Any,
        *,
        result_type: type | None = None,
        remote: bool = False,
        summary: str | None = None,
    ) -> Any:
        """One external call, as a local activity (`remote`: a regular one, for money moving
        into or out of a loan — its result is kept by the server, never re-run on replay). A
        stage readers have not seen yet is recorded first: the call may take long (a system down
        is retried for as long as it takes).

        Local, because every step is keyed by business ids and so safe to repeat: a worker that
        dies mid-call makes the next one run it again, and the outside system answers the first
        result. A local activity costs one history event instead of three plus a workflow task
        (see docs/performance.md). Money is the exception: the payout (origination.disburse) and
        a repayment's capture run as regular, heartbeating activities. `summary` is what the UI
        shows for a regular one (a local activity's marker names its step; it carries none)."""
        if self.recorded is not None and self.recorded.stage != self.state.stage:
            await self.record(f"before {activity}")
        if remote:
            try:
                return await workflow.execute_activity(
                    activity,
                    arg,
                    start_to_close_timeout=EXTERNAL_TIMEOUT,
                    heartbeat_timeout=PAYOUT_HEARTBEAT,
                    retry_policy=EXTERNAL_CALL,
                    result_type=result_type,
                    summary=summary,
                )
            except ActivityError as error:
                if isinstance(error.cause, ApplicationError):
                    raise StepRefused(error.cause) from error
                raise
        try:
            # no summary on a local activity: its marker already names the step, and a summary
            # (encrypted, ~150 bytes) on each of a loan's dozen markers was a tenth of its history
            return await workflow.execute_local_activity(
                activity,
                arg,
                start_to_close_timeout=EXTERNAL_TIMEOUT,
                retry_policy=EXTERNAL_CALL,
                result_type=result_type,
            )
        except ApplicationError as refusal:
            # a local activity's refusal may surface as the ApplicationError itself: one shape
            raise StepRefused(refusal) from refusal

    async def record(self, event: str) -> None:
        """Write the view to the read model if it changed since the last record.

        Nothing is recorded while verification runs: a submission refused there never existed
        for any reader. Several records may be in flight at once (the main process and an
        update handler): each carries its own version and the upsert keeps the highest."""
        if not self.state.verification.done and self.recorded is None:
            return
        if not self.changed():
            return
        self.version += 1
        view = self.view()
        self.recorded = view
        visibility.show(self.state, self.inp, self.shown)
        await workflow.execute_local_activity(
            steps.RECORD_APPLICATION,
            steps.RecordApplication(
                view=view, event=event, collection_account_no=self.inp.request.collection_account.account_no
            ),
            start_to_close_timeout=RECORD_TIMEOUT,
            retry_policy=RECORD_RETRY,
        )
        if self.written is None or self.written.version < view.version:
            self.written = view

    async def written_when(self, check: Callable[[ApplicationView], bool]) -> ApplicationView:
        """Wait until the read model holds a view satisfying `check`, and answer with it: what
        an update returns is what the next GET shows."""
        await workflow.wait_condition(lambda: self.written is not None and check(self.written))
        assert self.written is not None
        return self.written

    async def recorded_now(self, event: str) -> ApplicationView:
        """Record the current state (if it changed) and answer with the view as written."""
        await self.record(event)
        target = self.version
        return await self.written_when(lambda v: v.version >= target)
