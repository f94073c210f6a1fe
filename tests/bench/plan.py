"""The Temporal steps of a recorded loan, counted from its history: what the baseline replays.

A history is read as a sequence of *batches*: the commands one workflow task issued (the events
between a WorkflowTaskCompleted and the next WorkflowTaskScheduled, or the end), each opened by
what woke the workflow (the start with its update, an update, a signal, an activity's
completion, a timer). The baseline workflow issues the same commands, in the same order, with
no-op bodies; its driver sends the same updates and signals.
"""

from collections import Counter
from dataclasses import dataclass, field

from temporalio.api.enums.v1 import EventType
from temporalio.api.history.v1 import HistoryEvent

# the commands a batch can issue
LOCAL_ACTIVITY = "local_activity"
ACTIVITY = "activity"  # "activity:<heartbeat timeout seconds>" for one that heartbeats
TIMER = "timer"  # "timer:<seconds>"
UPSERT = "upsert"  # "upsert:Key,Key"
COMPLETE_UPDATE = "complete_update"  # "complete_update:<name>"
COMPLETE = "complete"

# what opens a batch
START = "start"  # "start+update:<name>" when started by update-with-start
UPDATE = "update"  # "update:<name>"
SIGNAL = "signal"  # "signal:<name>"
ACTIVITY_DONE = "activity_done"
TIMER_FIRED = "timer_fired"

_WAKERS = {
    EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED: ACTIVITY_DONE,
    EventType.EVENT_TYPE_TIMER_FIRED: TIMER_FIRED,
}


@dataclass
class Batch:
    trigger: str
    cancel_timers: int = 0  # timers started by earlier batches, cancelled in this one (oldest first)
    ops: list[str] = field(default_factory=list)


@dataclass
class Plan:
    batches: list[Batch]
    timer_seconds: float = 86_400.0  # a timer the plan cancels never fires; one that fires, after this

    def commands(self) -> tuple[tuple[str, int, tuple[str, ...]], ...]:
        """What each task issued, timers without their durations: a deadline's timer runs for
        however long is left until it, which differs from loan to loan by the second."""
        return tuple(
            (b.trigger, b.cancel_timers, tuple(TIMER if o.startswith(TIMER + ":") else o for o in b.ops))
            for b in self.batches
        )

    @property
    def external(self) -> list[str]:
        """The updates and signals a driver sends, in order (the first with the start)."""
        return [b.trigger for b in self.batches if b.trigger.startswith((START, UPDATE, SIGNAL))]


@dataclass
class Shape:
    """The counts of a history, as docs/performance.md lists them."""

    events: int
    bytes: int
    local_activities: int
    activities_sequential: int
    activity_parallel_groups: list[int]
    timers: int
    timers_fired: int
    updates_with_start: int
    updates: int
    signals: int
    upserts: int
    by_type: Counter[str]

    def describe(self) -> str:
        parallel = sum(self.activity_parallel_groups)
        groups = "+".join(str(n) for n in self.activity_parallel_groups) or "none"
        return (
            f"{self.events} events, {self.bytes / 1000:.1f} KB; local activities {self.local_activities}, "
            f"activities {self.activities_sequential} sequential + {parallel} parallel (groups {groups}), "
            f"timers {self.timers} ({self.timers_fired} fired), updates {self.updates_with_start} with start "
            f"+ {self.updates}, signals {self.signals}, search-attribute upserts {self.upserts}"
        )


def event_name(event: HistoryEvent) -> str:
    return EventType.Name(event.event_type).removeprefix("EVENT_TYPE_")


def history_bytes(events: list[HistoryEvent]) -> int:
    """What Temporal stores: the protobuf size of the events (payloads as encoded, encrypted)."""
    return sum(event.ByteSize() for event in events)


def plan_of(events: list[HistoryEvent]) -> Plan:
    batches: list[Batch] = []
    current: Batch | None = None
    waker = START  # what woke the workflow for the next task
    names: dict[str, str] = {}  # update id -> update name
    for event in events:
        kind = event.event_type
        if kind == EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED:
            current = Batch(trigger=waker)
            batches.append(current)
            waker = ""
        elif kind == EventType.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED:
            current = None
        elif kind == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED:
            waker = waker or f"{SIGNAL}:{event.workflow_execution_signaled_event_attributes.signal_name}"
        elif kind in _WAKERS:
            waker = waker or _WAKERS[kind]
        elif current is None:
            continue
        elif kind == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED:
            request = event.workflow_execution_update_accepted_event_attributes.accepted_request
            names[request.meta.update_id] = request.input.name
            if current.trigger == START:
                current.trigger = f"{START}+{UPDATE}:{request.input.name}"
            else:
                current.trigger = f"{UPDATE}:{request.input.name}"
        elif kind == EventType.EVENT_TYPE_MARKER_RECORDED:
            current.ops.append(LOCAL_ACTIVITY)
        elif kind == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
            attributes = event.activity_task_scheduled_event_attributes
            heartbeat = attributes.heartbeat_timeout.ToTimedelta().total_seconds()
            current.ops.append(f"{ACTIVITY}:{heartbeat:g}" if heartbeat else ACTIVITY)
        elif kind == EventType.EVENT_TYPE_TIMER_STARTED:
            seconds = event.timer_started_event_attributes.start_to_fire_timeout.ToTimedelta().total_seconds()
            current.ops.append(f"{TIMER}:{seconds:g}")
        elif kind == EventType.EVENT_TYPE_TIMER_CANCELED:
            current.cancel_timers += 1
        elif kind == EventType.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES:
            keys = sorted(event.upsert_workflow_search_attributes_event_attributes.search_attributes.indexed_fields)
            current.ops.append(f"{UPSERT}:{','.join(keys)}")
        elif kind == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_COMPLETED:
            update_id = event.workflow_execution_update_completed_event_attributes.meta.update_id
            current.ops.append(f"{COMPLETE_UPDATE}:{names.get(update_id, '')}")
        elif kind == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED:
            current.ops.append(COMPLETE)
    return Plan(batches=batches)


def is_full_happy_path(plan: Plan, driven: list[str]) -> bool:
    """The plan of a loan that got every one of the driver's updates and signals, in its order,
    each in a task of its own, and completed: not one that skipped a step or was shortened."""
    return plan.external == driven and bool(plan.batches) and plan.batches[-1].ops[-1:] == [COMPLETE]


def typical_plan(plans: list[Plan], driven: list[str]) -> tuple[Plan, int]:
    """The plan most of these loans share, among the full happy paths, with how many share it.
    Raises ValueError when no loan took the full happy path."""
    full = [plan for plan in plans if is_full_happy_path(plan, driven)]
    if not full:
        raise ValueError("no recorded loan took the full happy path")
    counts = Counter(plan.commands() for plan in full)
    commands, count = counts.most_common(1)[0]
    return next(plan for plan in full if plan.commands() == commands), count


def shape_of(events: list[HistoryEvent]) -> Shape:
    plan = plan_of(events)
    sequential, groups = 0, []
    for batch in plan.batches:
        n = sum(1 for op in batch.ops if op.partition(":")[0] == ACTIVITY)
        if n == 1:
            sequential += 1
        elif n > 1:
            groups.append(n)
    by_type: Counter[str] = Counter(event_name(e) for e in events)
    external = plan.external
    return Shape(
        events=len(events),
        bytes=history_bytes(events),
        local_activities=by_type["MARKER_RECORDED"],
        activities_sequential=sequential,
        activity_parallel_groups=groups,
        timers=by_type["TIMER_STARTED"],
        timers_fired=by_type["TIMER_FIRED"],
        updates_with_start=sum(1 for t in external if t.startswith(START + "+")),
        updates=sum(1 for t in external if t.startswith(UPDATE)),
        signals=by_type["WORKFLOW_EXECUTION_SIGNALED"],
        upserts=by_type["UPSERT_WORKFLOW_SEARCH_ATTRIBUTES"],
        by_type=by_type,
    )
