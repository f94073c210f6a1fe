"""Operations' fixes for stuck processes — additions to API.md, each a workflow update with a
validator, so a refused action (wrong stage) changes nothing and answers 409 invalid_state.

- `POST /v1/ops/applications/{id}/resend-to-bank` — send the application to the bank's review again
  (`bank_review` only; the review SLA restarts);
- `POST /v1/ops/applications/{id}/extend-deadline` `{"days": 1..90, "note"}` — push the current
  waiting stage's deadlines out (`bank_review`, `account_lock`); clears a deadline flag;
- `POST /v1/ops/applications/{id}/cancel` `{"reason"}` — end an application before disbursement with
  full compensation (registration released, payee account restored); ends in `failed`.
Every action is audited with the operator's identity."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel

from api import temporal_ops
from api.audit import record
from api.auth import OpsPrincipal, State
from api.problems import problem_responses
from api.routes.banks import visible_view
from domain import workflow_api as names
from domain.application import ApplicationView, DeadlineExtension, OpsCancellation, ResendToBank

router = APIRouter(tags=["operations"], responses=problem_responses(401, 403, 404, 409, 422))


async def _act(state: State, who: OpsPrincipal, application_id: str, update: str, body: BaseModel) -> Any:
    await visible_view(state, who, application_id)
    stamped = body.model_copy(update={"recorded_by": who.name})
    view = await temporal_ops.update(state.temporal, application_id, update, stamped, ApplicationView)
    await record(state, who.name, f"ops.{update}", application_id, **body.model_dump(mode="json"))
    return view.model_dump(mode="json")


@router.post("/v1/ops/applications/{application_id}/resend-to-bank", response_model=ApplicationView)
async def resend_to_bank(application_id: str, body: ResendToBank, who: OpsPrincipal, state: State) -> Any:
    return await _act(state, who, application_id, names.UPDATE_RESEND_TO_BANK, body)


@router.post("/v1/ops/applications/{application_id}/extend-deadline", response_model=ApplicationView)
async def extend_deadline(application_id: str, body: DeadlineExtension, who: OpsPrincipal, state: State) -> Any:
    return await _act(state, who, application_id, names.UPDATE_EXTEND_DEADLINE, body)


@router.post("/v1/ops/applications/{application_id}/cancel", response_model=ApplicationView)
async def cancel(application_id: str, body: OpsCancellation, who: OpsPrincipal, state: State) -> Any:
    return await _act(state, who, application_id, names.UPDATE_CANCEL, body)
