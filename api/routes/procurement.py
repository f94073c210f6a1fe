"""POST /v1/procurement/account-changes: the purchaser's answer to the payee change."""

from __future__ import annotations

from typing import Any, Literal

import structlog
from fastapi import APIRouter
from pydantic import BaseModel

from api import temporal_ops
from api.audit import record
from api.auth import ProcurementBody, State
from api.problems import problem_responses
from api.routes.treasury import parse_signed
from api.state import AppState
from domain import workflow_api as names
from domain.application import AccountChangeEvent
from domain.stages import Stage

router = APIRouter(tags=["procurement"], responses=problem_responses(401, 422))
log = structlog.get_logger("api.procurement")


class AccountChangeAck(BaseModel):
    status: Literal["accepted", "duplicate", "unmatched"]


async def awaiting_lock(state: AppState, contract_no: str) -> str | None:
    """The application waiting for the purchaser's answer on `contract_no`. The read model
    says so; it is written just after the workflow enters the stage, so when it does not
    know yet, the newest application on the contract is asked directly."""
    found = await state.repos.applications.find_awaiting_lock(contract_no)
    if found is not None:
        return found
    newest, _ = await state.repos.applications.list(contract_no=contract_no, limit=1)
    if not newest or newest[0].stage.is_final:
        return None
    view = await temporal_ops.query_view(state.temporal, newest[0].application_id)
    if view is not None and view.stage == Stage.ACCOUNT_LOCK:
        return view.application_id
    return None


@router.post(
    "/v1/procurement/account-changes",
    response_model=AccountChangeAck,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": AccountChangeEvent.model_json_schema()}},
        }
    },
)
async def account_change(raw: ProcurementBody, state: State) -> Any:
    event: AccountChangeEvent = parse_signed(AccountChangeEvent, raw)
    application_id = await awaiting_lock(state, event.contract_no)
    status, is_new = await state.repos.account_changes.record(event, raw, application_id)
    if is_new and application_id is not None:
        try:
            if await temporal_ops.signal(state.temporal, application_id, names.SIGNAL_ACCOUNT_CHANGE, event):
                await state.repos.account_changes.mark_delivered(event.event_id)
        except Exception as error:
            log.warning("account_change_signal_failed", event_id=event.event_id, error=type(error).__name__)
    await record(
        state,
        "procurement",
        "procurement.account_change",
        application_id,
        event_id=event.event_id,
        contract_no=event.contract_no,
        decision=event.decision,
        status=status,
    )
    return {"status": status}
