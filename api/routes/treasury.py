"""POST /v1/treasury/payments: the treasury's signed payment notifications."""

from __future__ import annotations

from typing import Any, Literal

import structlog
from fastapi import APIRouter
from pydantic import BaseModel, ValidationError

from api import temporal_ops
from api.audit import record
from api.auth import State, TreasuryBody
from api.problems import Problem, problem_responses
from domain import workflow_api as names
from domain.application import TreasuryPayment
from domain.errors import ErrorCode
from store.payments import classify_payment

router = APIRouter(tags=["treasury"], responses=problem_responses(401, 422))
log = structlog.get_logger("api.treasury")


class PaymentAck(BaseModel):
    status: Literal["accepted", "duplicate", "unmatched", "misdirected"]


def parse_signed(model: type[Any], raw: bytes) -> Any:
    try:
        return model.model_validate_json(raw)
    except ValidationError as error:
        errors = [
            {"loc": [str(p) for p in e.get("loc", ())], "msg": str(e.get("msg", "")), "type": str(e.get("type", ""))}
            for e in error.errors()
        ]
        raise Problem(ErrorCode.VALIDATION_ERROR, "the notification is malformed", errors=errors) from error


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
    payable = await state.repos.applications.find_payable(notice.contract_no)
    classification = classify_payment(notice, payable)
    status, is_new = await state.repos.payments.record(notice, raw, classification)
    if is_new and classification.application_id is not None and status in ("accepted", "misdirected"):
        try:
            delivered = await temporal_ops.signal(
                state.temporal, classification.application_id, names.SIGNAL_TREASURY_PAYMENT, notice
            )
            if delivered:
                await state.repos.payments.mark_delivered(notice.payment_id)
        except Exception as error:
            log.warning("payment_signal_failed", payment_id=notice.payment_id, error=type(error).__name__)
    await record(
        state,
        "treasury",
        "treasury.payment",
        classification.application_id,
        payment_id=notice.payment_id,
        contract_no=notice.contract_no,
        amount=str(notice.amount),
        status=status,
    )
    return {"status": status}
