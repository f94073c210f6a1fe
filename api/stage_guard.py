"""Refusing from the platform's record before a workflow is asked.

The record is the workflow's own projection and is never ahead of it: a stage it shows has been
reached. So when the recorded stage is final, or already past every stage an action allows, the
workflow would refuse too — the API answers 409 itself, and the financing's history does not
grow by a refused update (Temporal may keep the workflow task that ran a rejecting validator).
A recorded stage *before* the allowed ones proves nothing (the record may lag): the workflow's
validator decides those.
"""

from __future__ import annotations

from api.problems import Problem
from domain.application import ApplicationView
from domain.errors import ErrorCode
from domain.stages import Stage

# the order of the active stages along the process
_ORDER = [Stage.VERIFYING, Stage.BANK_REVIEW, Stage.ACCOUNT_LOCK, Stage.DISBURSING, Stage.REPAYING, Stage.OVERDUE]


def require_reachable(view: ApplicationView, allowed: frozenset[Stage] | set[Stage], action: str) -> None:
    if view.stage in allowed:
        return
    active_allowed = [_ORDER.index(s) for s in allowed if s in _ORDER]
    past = view.stage.is_final or (
        view.stage in _ORDER and active_allowed and _ORDER.index(view.stage) > max(active_allowed)
    )
    if past:
        allowed_text = ", ".join(sorted(s.value for s in allowed))
        raise Problem(ErrorCode.INVALID_STATE, f"cannot {action} in stage {view.stage} (only in {allowed_text})")


def require_acknowledgeable(view: ApplicationView, key: str) -> None:
    """An ops acknowledgement takes the flag's key from the record: a key the record does not
    show flagged, or a flag that clears with its cause (not one for a person), is refused here —
    the workflow would refuse it too — leaving the financing's history untouched."""
    flag = next((item for item in view.attention if item.key == key), None)
    if flag is None:
        flagged = ", ".join(item.key for item in view.attention) or "none"
        raise Problem(
            ErrorCode.INVALID_STATE, f"no attention flag {key!r} on this application (flagged now: {flagged})"
        )
    if not flag.acknowledgeable:
        fix = flag.how_to_fix or "it clears when its cause goes away"
        raise Problem(ErrorCode.INVALID_STATE, f"the {key!r} flag cannot be acknowledged: {fix}")
