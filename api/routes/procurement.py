"""POST /v1/procurement/account-changes: the purchaser's answer to the payee change."""

from __future__ import annotations

from typing import Any, Literal

import structlog
from fastapi import APIRouter, Depends
from pydantic import BaseModel

from api import temporal_ops
from api.audit import record
from api.auth import ProcurementBody, State, parse_signed, procurement_body
from api.problems import problem_responses
from api.routing import contract_holder
from domain import workflow_api as names
from domain.application import AccountChangeEvent
from domain.routing import route_account_change

router = APIRouter(
    tags=["procurement"], responses=problem_responses(401, 422), dependencies=[Depends(procurement_body)]
)
log = structlog.get_logger("api.procurement")


class AccountChangeAck(BaseModel):
    status: Literal["accepted", "duplicate", "unmatched"]


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
    # routed by the registry: the contract's active financing takes the answer whenever it
    # comes (also while the platform is still asking for the change) or keeps it for a person
    route = route_account_change(await contract_holder(state, event.contract_no))
    application_id = route.application_id
    status, is_new = await state.repos.account_changes.record(event, raw, application_id)
    if is_new and application_id is not None:
        try:
            if await temporal_ops.signal(state.temporal, application_id, names.SIGNAL_ACCOUNT_CHANGE, event):
                await state.repos.account_changes.mark_delivered(event.event_id)
            else:
                await state.repos.account_changes.unmatch(event.event_id, f"financing {application_id} had ended")
                status, application_id = "unmatched", None
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
