"""One financing on the time-skipping server, driven step by step, and told when it settled.

Two workers serve the financing's task queue, as a deployment's would be split:

- the workflow worker (`no_remote_activities`: workflow tasks and the local activities they
  run), on the production worker's sandbox (worker/main.py), uncached (`max_cached_workflows=0`):
  every workflow task replays the history from its start — what a worker restart does to the
  next task, on every task. The model stops it
  and starts a fresh one between steps, or leaves it stopped while messages and activity
  results pile up in history: the next task then sees them together (issue 9's shape: the
  payout's result and a treasury notice in one task, signal handlers run first);
- the activity worker (the regular, heartbeating steps: the payout, a repayment's capture).
  Stopping it fails the steps in flight ("worker is shutting down"), which are retried.

(The test server can neither reset a sticky queue nor time a workflow task out quickly, so a
cached worker cannot be restarted without 10–30 s of real time; the chaos suite covers kills
in the middle of a workflow task.)

"Settled" is read from the history and the server's description, never from a sleep: no
workflow task open, no activity running that is not held at a gate, no short timer pending,
every update sent either answered or accepted and waiting inside its handler. An activity in
its retry back-off is moved along by skipping the server's clock a little.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from temporalio.api.enums.v1 import EventType, WorkflowTaskFailedCause
from temporalio.client import WorkflowHandle
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from domain import workflow_api as names
from domain.application import ApplicationView
from tests.workflow.harness import Harness
from tests.workflow.model.systems import LOCAL_GATES, REMOTE_GATES, ModelSystems
from worker.main import workflow_runner
from workflows.financing import FinancingWorkflow

E = EventType
_WFT_OPENS = {E.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED, E.EVENT_TYPE_WORKFLOW_TASK_STARTED}
_WFT_CLOSES = {
    E.EVENT_TYPE_WORKFLOW_TASK_COMPLETED,
    E.EVENT_TYPE_WORKFLOW_TASK_FAILED,
    E.EVENT_TYPE_WORKFLOW_TASK_TIMED_OUT,
}
_CLOSES = {
    E.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED: "completed",
    E.EVENT_TYPE_WORKFLOW_EXECUTION_FAILED: "failed",
    E.EVENT_TYPE_WORKFLOW_EXECUTION_TIMED_OUT: "timed_out",
    E.EVENT_TYPE_WORKFLOW_EXECUTION_CANCELED: "canceled",
    E.EVENT_TYPE_WORKFLOW_EXECUTION_TERMINATED: "terminated",
    E.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW: "continued_as_new",
}
# the server refused the task's completion because a message came while it ran (the SDK runs
# the task again with the message): how Temporal works, not a failure of the workflow
_EXPECTED_TASK_FAILURES = {
    WorkflowTaskFailedCause.WORKFLOW_TASK_FAILED_CAUSE_UNHANDLED_COMMAND,
    WorkflowTaskFailedCause.WORKFLOW_TASK_FAILED_CAUSE_RESET_STICKY_TASK_QUEUE,
}
# a timer shorter than this is part of a step (the ending's 1 ms commit), not a deadline
SHORT_TIMER = timedelta(minutes=2)


class NeverSettled(AssertionError):
    """The financing kept working (or waiting on something no step will give it)."""


@dataclass
class Progress:
    """What the history says the workflow is doing."""

    closed: str | None = None
    wft_open: bool = False
    activities: dict[int, str] = field(default_factory=dict)  # scheduled event id -> type
    scheduled: Counter[str] = field(default_factory=Counter)  # regular activities ordered, by type
    timers: dict[str, datetime] = field(default_factory=dict)  # timer id -> when it fires
    accepted_updates: set[str] = field(default_factory=set)
    completed_updates: set[str] = field(default_factory=set)
    task_failures: list[str] = field(default_factory=list)
    tasks_run_again: int = 0  # completions the server refused because a message came meanwhile
    cancel_requested: bool = False
    events: int = 0


def read_progress(events: Iterable[Any]) -> Progress:
    p = Progress()
    for e in events:
        p.events += 1
        t = e.event_type
        if t in _WFT_OPENS:
            p.wft_open = True
        elif t in _WFT_CLOSES:
            p.wft_open = False
            if t == E.EVENT_TYPE_WORKFLOW_TASK_FAILED:
                a = e.workflow_task_failed_event_attributes
                if a.cause in _EXPECTED_TASK_FAILURES:
                    p.tasks_run_again += 1
                else:
                    p.task_failures.append(f"{WorkflowTaskFailedCause.Name(a.cause)}: {a.failure.message}")
            elif t == E.EVENT_TYPE_WORKFLOW_TASK_TIMED_OUT:
                p.task_failures.append("workflow task timed out")
        elif t == E.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
            name = e.activity_task_scheduled_event_attributes.activity_type.name
            p.activities[e.event_id] = name
            p.scheduled[name] += 1
        elif t == E.EVENT_TYPE_ACTIVITY_TASK_COMPLETED:
            p.activities.pop(e.activity_task_completed_event_attributes.scheduled_event_id, None)
        elif t == E.EVENT_TYPE_ACTIVITY_TASK_FAILED:
            p.activities.pop(e.activity_task_failed_event_attributes.scheduled_event_id, None)
        elif t == E.EVENT_TYPE_ACTIVITY_TASK_TIMED_OUT:
            p.activities.pop(e.activity_task_timed_out_event_attributes.scheduled_event_id, None)
        elif t == E.EVENT_TYPE_ACTIVITY_TASK_CANCELED:
            p.activities.pop(e.activity_task_canceled_event_attributes.scheduled_event_id, None)
        elif t == E.EVENT_TYPE_TIMER_STARTED:
            a = e.timer_started_event_attributes
            p.timers[a.timer_id] = (
                e.event_time.ToDatetime().replace(tzinfo=None) + a.start_to_fire_timeout.ToTimedelta()
            )
        elif t == E.EVENT_TYPE_TIMER_FIRED:
            p.timers.pop(e.timer_fired_event_attributes.timer_id, None)
        elif t == E.EVENT_TYPE_TIMER_CANCELED:
            p.timers.pop(e.timer_canceled_event_attributes.timer_id, None)
        elif t == E.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED:
            p.accepted_updates.add(
                e.workflow_execution_update_accepted_event_attributes.accepted_request.meta.update_id
            )
        elif t == E.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_COMPLETED:
            p.completed_updates.add(e.workflow_execution_update_completed_event_attributes.meta.update_id)
        elif t == E.EVENT_TYPE_WORKFLOW_EXECUTION_CANCEL_REQUESTED:
            p.cancel_requested = True
        elif t in _CLOSES:
            p.closed = _CLOSES[t]
    return p


@dataclass
class Driver:
    env: WorkflowEnvironment
    fakes: ModelSystems
    queue: str = field(default_factory=lambda: f"model-{uuid.uuid4().hex[:8]}")
    handle: WorkflowHandle[Any, Any] | None = None
    workflow_worker: Worker | None = None
    activity_worker: Worker | None = None
    _runs: dict[int, asyncio.Future[None]] = field(default_factory=dict)
    worker_restarts: int = 0

    @property
    def harness(self) -> Harness:
        return Harness(self.env, self.fakes, self.queue)

    @property
    def paused(self) -> bool:
        return self.workflow_worker is None

    # ---------------------------------------------------------------- workers

    def _run(self, worker: Worker) -> Worker:
        self._runs[id(worker)] = asyncio.ensure_future(worker.run())
        return worker

    async def _stop(self, worker: Worker | None) -> None:
        if worker is None:
            return
        await worker.shutdown()
        run = self._runs.pop(id(worker))
        with contextlib.suppress(Exception):
            await run

    async def start_workflow_worker(self) -> None:
        if self.workflow_worker is not None:
            return
        self.workflow_worker = self._run(
            Worker(
                self.env.client,
                task_queue=self.queue,
                workflows=[FinancingWorkflow],
                activities=self.fakes.activities(),  # the local activities it runs
                no_remote_activities=True,
                max_cached_workflows=0,
                workflow_runner=workflow_runner(),  # the production worker's sandbox
            )
        )

    async def stop_workflow_worker(self) -> None:
        """Only between workflow tasks: a local activity held in one would keep the worker's
        shutdown waiting (the model never stops it then)."""
        assert not any(self.fakes.held(name) for name in LOCAL_GATES)
        worker, self.workflow_worker = self.workflow_worker, None
        await self._stop(worker)
        self.worker_restarts += 1

    async def start_activity_worker(self) -> None:
        assert self.activity_worker is None
        self.activity_worker = self._run(
            Worker(self.env.client, task_queue=self.queue, activities=self.fakes.activities())
        )

    async def restart_activity_worker(self) -> None:
        worker, self.activity_worker = self.activity_worker, None
        await self._stop(worker)
        await self.start_activity_worker()
        self.worker_restarts += 1

    async def start(self) -> None:
        await self.start_workflow_worker()
        await self.start_activity_worker()

    async def close(self) -> None:
        """Open every gate, end the financing if it still runs, stop both workers."""
        self.fakes.open_all()
        if self.handle is not None:
            # local activities finish first: a worker shut down under one leaves the SDK's
            # timeout task writing to a closed channel (a harmless panic, but noise)
            with contextlib.suppress(Exception):
                await self.start_workflow_worker()
                await self.settle(budget=5.0)
            with contextlib.suppress(Exception):
                await self.handle.terminate("the model's example ended")
        for worker in (self.workflow_worker, self.activity_worker):
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._stop(worker), 10)
        self.workflow_worker = self.activity_worker = None

    # ---------------------------------------------------------------- reading

    async def progress(self) -> Progress:
        assert self.handle is not None
        history = await self.handle.fetch_history()
        return read_progress(history.events)

    async def query(self) -> ApplicationView:
        assert self.handle is not None
        return await self.handle.query(names.QUERY_VIEW, result_type=ApplicationView, rpc_timeout=timedelta(seconds=10))

    async def now(self) -> datetime:
        return await self.env.get_current_time()

    # ---------------------------------------------------------------- settling

    async def settle(self, updates: Callable[[Progress], bool] = lambda _: False, budget: float = 45.0) -> str:
        """Wait until the financing settled. Returns "quiet" (nothing moves), "held" (a step
        waits at a gate; "held_local": a local one holds its workflow task, so nothing else can be
        read), "paused" (no workflow worker)
        or "closed" (the workflow ended). `updates(progress)`: an update sent is neither answered
        nor accepted yet (keep waiting)."""
        assert self.handle is not None
        loop = asyncio.get_running_loop()
        deadline = loop.time() + budget
        quiet, skip = 0, 1.0
        seen_pending: set[tuple[str, int]] = set()
        last = "nothing read yet"
        while loop.time() < deadline:
            if self.paused:
                return "paused"
            if any(self.fakes.held(name) for name in LOCAL_GATES):
                return "held_local"
            p = await self.progress()
            if p.closed is not None:
                return "closed"
            busy: list[str] = []
            if p.wft_open:
                busy.append("workflow task")
            if updates(p):
                busy.append("update not yet taken")
            if p.timers:
                now = (await self.now()).replace(tzinfo=None)
                busy += [f"timer {t}" for t, at in p.timers.items() if at - now < SHORT_TIMER]
            backing_off = False
            held_remote = False
            pending: set[tuple[str, int]] = set()
            if p.activities:
                described = await self.handle.describe()
                for a in described.raw_description.pending_activities:
                    name = a.activity_type.name
                    if name in REMOTE_GATES and self.fakes.held(name):
                        held_remote = True
                        continue
                    # the fakes answer at once: an attempt still pending a moment later (and not
                    # at a gate) waits for its retry
                    pending.add((name, a.attempt))
                    if (name, a.attempt) in seen_pending and a.attempt > 1:
                        backing_off = True
                    busy.append(f"activity {name} (attempt {a.attempt})")
            seen_pending = pending
            if not busy:
                quiet += 1
                if quiet >= 2:
                    return "held" if held_remote else "quiet"
                await asyncio.sleep(0.005)
                continue
            quiet = 0
            last = ", ".join(busy)
            only_backoff = backing_off and all(b.startswith("activity") for b in busy)
            if only_backoff and held_remote:
                return "held"  # the clock cannot move while a step is in flight
            if only_backoff:
                await self.env.sleep(timedelta(seconds=skip))  # the retry's back-off passes
                skip = min(skip * 2, 64.0)
            else:
                await asyncio.sleep(0.01)
        raise NeverSettled(f"the financing never settled: {last}")


async def bounded(coro: Awaitable[Any], seconds: float = 60.0) -> Any:
    return await asyncio.wait_for(coro, seconds)
