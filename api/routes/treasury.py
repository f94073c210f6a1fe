"""POST /v1/treasury/payments: the treasury's signed payment notifications (taken in by
api/notices.py)."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Depends
from pydantic import BaseModel

from api.auth import State, TreasuryBody, parse_signed, treasury_body
from api.notices import take_payment
from api.problems import problem_responses
from domain.application import TreasuryPayment

router = APIRouter(tags=["treasury"], responses=problem_responses(401, 422), dependencies=[Depends(treasury_body)])


class PaymentAck(BaseModel):
    status: Literal["accepted", "duplicate", "unmatched", "misdirected"]


@router.post(
    "/v1/treasury/payments",
    status_code=202,
    response_model=PaymentAck,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": TreasuryPayment.model_json_schema()}},
        }
    },
)
async def payment_notification(raw: TreasuryBody, state: State) -> Any:
    notice: TreasuryPayment = parse_signed(TreasuryPayment, raw)
    return {"status": await take_payment(state, notice, raw)}
