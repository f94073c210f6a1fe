"""POST /v1/procurement/account-changes: the purchaser's answer to the payee change (taken in by
api/notices.py)."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Depends
from pydantic import BaseModel

from api.auth import ProcurementBody, State, parse_signed, procurement_body
from api.notices import take_account_change
from api.problems import problem_responses
from domain.application import AccountChangeEvent

router = APIRouter(
    tags=["procurement"], responses=problem_responses(401, 422), dependencies=[Depends(procurement_body)]
)


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
    return {"status": await take_account_change(state, event, raw)}
