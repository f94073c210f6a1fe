"""Operations endpoints (API.md "Account lock" and "Operations and oversight")."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query

from api import cursors
from api.auth import State, ops_principal
from api.problems import Problem, problem_responses
from domain.errors import ErrorCode
from store.cursors import InvalidCursor, decode_cursor, encode_cursor

router = APIRouter(
    tags=["operations"], responses=problem_responses(401, 403, 404, 409, 422), dependencies=[Depends(ops_principal)]
)


@router.get("/v1/ops/payments")
async def kept_payments(
    state: State,
    status: Literal["unmatched", "misdirected", "kept"] = "unmatched",
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: str | None = None,
) -> Any:
    try:
        items, next_cursor = await state.repos.payments.list_for_ops(
            status, limit=limit, cursor=cursors.opened(state.settings, cursor)
        )
    except InvalidCursor as error:
        raise Problem(ErrorCode.VALIDATION_ERROR, str(error)) from error
    return {
        "items": [p.model_dump(mode="json") for p in items],
        "next_cursor": cursors.sign(state.settings, next_cursor),
    }


@router.get(
    "/v1/ops/stuck",
    summary="Applications that need a person",
    description=(
        "Active applications flagged `needs_attention` or past their stage's deadline — and ended "
        "ones that keep a message for a person (money that reached the collection account after the "
        "financing ended, a purchaser's answer not taken) until ops acknowledge it — longest "
        "waiting first, each with stage, since, bank, district and `reasons` (API.md), plus "
        "`attention`: the workflow's flags with their keys, whether ops may acknowledge each "
        "(`POST /v1/ops/applications/{id}/acknowledge`) and how it is fixed otherwise, and "
        "`working_days_in_stage`: the working days of the State Council calendar the stage has "
        "lasted (after the day it began, up to today) — the unit of a product's `review_sla_days`."
    ),
)
async def stuck(
    state: State,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: str | None = None,
) -> Any:
    items = await state.repos.applications.stuck(datetime.now(UTC))  # a short list: paged here
    opened = cursors.opened(state.settings, cursor)
    if opened is not None:
        try:
            after = decode_cursor(opened)
        except InvalidCursor as error:
            raise Problem(ErrorCode.VALIDATION_ERROR, str(error)) from error
        items = [s for s in items if (s.since, s.application_id) > after]
    page, more = items[:limit], len(items) > limit
    next_cursor = encode_cursor(page[-1].since, page[-1].application_id) if more else None
    return {
        "items": [s.model_dump(mode="json") for s in page],
        "next_cursor": cursors.sign(state.settings, next_cursor),
    }
