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
