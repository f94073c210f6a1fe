"""An update of a financing answers with the version of the record that shows its change
(`domain.application.Recorded`), not the application itself: the application lives in the
platform's record, which the workflow wrote before answering (issue 11: the whole view in each
answer was a third of a loan's history). This is where the API turns such an answer into the
application it returns — the same record every GET reads, so the answer and the next GET
agree (read-your-writes)."""

from __future__ import annotations

from typing import Any

import structlog

from api import temporal_ops
from api.problems import upstream_unavailable
from api.state import AppState
from domain.application import ApplicationView, Recorded

log = structlog.get_logger(__name__)


async def answered_view(state: AppState, answer: Recorded) -> ApplicationView:
    """The application as of `answer` (or newer: a process that moved on meanwhile shows where
    it is now, never a state it will not reach)."""
    if answer.view is not None:
        return answer.view  # ended before anything was recorded: the answer carries its view
    view = await state.repos.applications.get(answer.application_id)
    if view is not None and view.version >= answer.version:
        return view
    # The workflow writes its record before it answers, so the record being behind means a
    # database that lost a committed write (a restore): say so and read the workflow's own view.
    log.warning(
        "record_behind_answer",
        application_id=answer.application_id,
        answered_version=answer.version,
        recorded_version=None if view is None else view.version,
    )
    queried = await temporal_ops.query_view(state.temporal, answer.application_id)
    if queried is None:
        raise upstream_unavailable("the application's record is not readable yet; retry later")
    return queried


async def update_application(state: AppState, application_id: str, name: str, arg: Any) -> ApplicationView:
    """Send a financing update and answer with the application it leaves."""
    answer = await temporal_ops.update(state.temporal, application_id, name, arg, Recorded)
    return await answered_view(state, answer)
