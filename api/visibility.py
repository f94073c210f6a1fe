"""Who may see an application: the one rule every router reads an application through."""

from __future__ import annotations

from api import temporal_ops
from api.edge import require_path_id
from api.problems import Problem
from api.state import AppState
from domain.application import ApplicationView
from domain.errors import ErrorCode
from store.principals import Principal


async def visible_view(state: AppState, who: Principal, application_id: str) -> ApplicationView:
    """The application as the caller may see it, else 404 not_found (another bank's too).

    Answered from the platform's record — the workflow's own projection, written after each
    transition and before any update answers — so it keeps answering while Temporal is down.
    Whose it is, is decided from the platform's records before anything else: only a submission
    not recorded yet (still being verified after a 503) is asked of its workflow, and only for
    the bank that submitted it (the audit trail says who) or ops."""
    require_path_id(application_id)
    view = await state.repos.applications.get(application_id)
    if view is None:
        submitter = await state.repos.audit.submitter(application_id)
        if submitter is None or not (who.is_ops or submitter == who.name):
            raise Problem(ErrorCode.NOT_FOUND, f"no application {application_id}")
        view = await temporal_ops.query_view(state.temporal, application_id)
        if view is not None and view.stage.is_final:
            view = None  # refused at verification: it never existed for anyone
    if view is None or (not who.is_ops and view.bank_code != who.bank_code):
        raise Problem(ErrorCode.NOT_FOUND, f"no application {application_id}")
    return view
