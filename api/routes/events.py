"""GET /v1/events: what changed, in order, for a bank's own applications (ops: all)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request

from api import cursors
from api.auth import AnyPrincipal, State, bank_or_ops
from api.problems import Problem, problem_responses
from domain.errors import ErrorCode

router = APIRouter(
    tags=["events"], responses=problem_responses(401, 403, 422, 503), dependencies=[Depends(bank_or_ops)]
)


@router.get(
    "/v1/events",
    summary="The event feed",
    description=(
        "Every change of stage, payout, repayment, attention flag and misdirected payment of the "
        "caller's applications (ops: all), oldest first, exactly once, each in the feed before any "
        "read shows it. `after`: the `next_cursor` of the previous page (none: from the beginning). "
        "`next_cursor` is never null: it is where to poll next, also when a page is empty."
    ),
)
async def list_events(
    request: Request,
    who: AnyPrincipal,
    state: State,
    after: str | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> Any:
    opened = cursors.opened(state.settings, after)
    try:
        after_id = int(opened) if opened is not None else 0
    except ValueError as error:  # signed by us, so never: but never a 500 either
        raise Problem(ErrorCode.VALIDATION_ERROR, "the cursor is not one this service returned") from error
    items = await state.repos.events.after(after_id, bank_code=None if who.is_ops else who.bank_code, limit=limit)
    last = int(items[-1].event_id) if items else after_id
    # a poll that found nothing disclosed nothing: not audited (a bank polls every few seconds;
    # a row per empty poll would bury the trail's real reads)
    request.state.audit_read = bool(items)
    return {"items": [e.model_dump(mode="json") for e in items], "next_cursor": cursors.sign(state.settings, str(last))}
