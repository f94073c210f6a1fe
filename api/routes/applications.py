"""Reading applications (API.md "Applications (banks)"): a bank its own, operations staff every
bank's. What a bank changes is api/routes/banks.py; whose an application is, api/visibility.py."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query

from api import cursors, edge
from api.auth import AnyPrincipal, State, bank_or_ops
from api.problems import Problem, problem_responses
from api.visibility import visible_view
from domain.application import ApplicationView
from domain.errors import ErrorCode
from domain.stages import Stage
from store.cursors import InvalidCursor

router = APIRouter(
    tags=["applications"],
    responses=problem_responses(401, 403, 404, 409, 422, 503),
    dependencies=[Depends(bank_or_ops)],
)


def _dump(view: ApplicationView) -> dict[str, Any]:
    return view.model_dump(mode="json")


@router.get("/v1/applications")
async def list_applications(
    who: AnyPrincipal,
    state: State,
    stage: Stage | None = None,
    contract_no: str | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: str | None = None,
    updated_since: Annotated[
        datetime | None,
        Query(description="only applications whose record changed at or after this instant (with its offset)"),
    ] = None,
) -> Any:
    edge.require_filter_id(contract_no, "contract_no")
    edge.require_filter_instant(updated_since, "updated_since")
    try:
        items, next_cursor = await state.repos.applications.list(
            bank_code=None if who.is_ops else who.bank_code,
            stage=stage,
            contract_no=contract_no,
            updated_since=updated_since,
            limit=limit,
            cursor=cursors.opened(state.settings, cursor),
        )
    except InvalidCursor as error:
        raise Problem(ErrorCode.VALIDATION_ERROR, str(error)) from error
    return {"items": [_dump(v) for v in items], "next_cursor": cursors.sign(state.settings, next_cursor)}


@router.get("/v1/applications/{application_id}", response_model=ApplicationView)
async def get_application(application_id: str, who: AnyPrincipal, state: State) -> Any:
    return _dump(await visible_view(state, who, application_id))
