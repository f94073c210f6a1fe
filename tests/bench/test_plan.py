"""The baseline's steps come from a full happy-path loan, the one most measured loans share."""

from __future__ import annotations

import pytest

from tests.bench import plan as steps
from tests.bench.throughput import DRIVEN

START, DECIDE, CONFIRMED, PAID = DRIVEN


def happy(extra_local_activities: int = 0) -> steps.Plan:
    la = steps.LOCAL_ACTIVITY
    return steps.Plan(
        batches=[
            steps.Batch(START, ops=[la, la, "timer:1209600", "complete_update:submission_outcome"]),
            steps.Batch(DECIDE, cancel_timers=1, ops=[la, "timer:604800", "complete_update:decide"]),
            steps.Batch(CONFIRMED, cancel_timers=1, ops=[la, "timer:3600", steps.ACTIVITY]),
            steps.Batch(steps.ACTIVITY_DONE, cancel_timers=1, ops=[la, "timer:15552000"]),
            steps.Batch(PAID, cancel_timers=1, ops=[steps.ACTIVITY]),
            steps.Batch(steps.ACTIVITY_DONE, ops=[la] * (1 + extra_local_activities) + [steps.COMPLETE]),
        ]
    )


def shortened() -> steps.Plan:
    """A loan whose payment arrived with the payout: one signal fewer in a task of its own."""
    plan = happy()
    return steps.Plan(batches=[b for b in plan.batches if b.trigger != PAID])


def test_the_most_common_full_happy_path_is_chosen() -> None:
    plan, sharing = steps.typical_plan([shortened(), happy(1), happy(), happy(), shortened()], DRIVEN)
    assert plan.batches == happy().batches
    assert sharing == 2


def test_timers_that_differ_only_in_duration_are_the_same_steps() -> None:
    later = happy()
    later.batches[0].ops[2] = "timer:1209000"
    plan, sharing = steps.typical_plan([happy(1), later, happy()], DRIVEN)
    assert plan.batches == later.batches
    assert sharing == 2


def test_a_shortened_loan_is_not_a_full_happy_path() -> None:
    assert steps.is_full_happy_path(happy(), DRIVEN)
    assert not steps.is_full_happy_path(shortened(), DRIVEN)
    not_completed = happy()
    not_completed.batches[-1].ops.pop()
    assert not steps.is_full_happy_path(not_completed, DRIVEN)


def test_no_full_happy_path_is_an_error() -> None:
    with pytest.raises(ValueError, match="full happy path"):
        steps.typical_plan([shortened()], DRIVEN)
