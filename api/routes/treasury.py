"""POST /v1/treasury/payments: the treasury's signed payment notifications."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal

import structlog
from fastapi import APIRouter, Depends
from pydantic import BaseModel

from api import temporal_ops
from api.audit import record
from api.auth import State, TreasuryBody, parse_signed, treasury_body
from api.problems import Problem, problem_responses
from api.routing import contract_holder
from api.state import AppState
from domain import workflow_api as names
from domain.application import TreasuryPayment, business_date
from domain.errors import ErrorCode
from domain.routing import route_treasury_payment
from domain.verification import payment_date_problem
from store.payments import PaymentStatus

router = APIRouter(tags=["treasury"], responses=problem_responses(401, 422), dependencies=[Depends(treasury_body)])
log = structlog.get_logger("api.treasury")


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
    problem = payment_date_problem(notice.paid_on, business_date(datetime.now(UTC)))
    if problem:  # refused before anything is recorded
        raise Problem(ErrorCode.VALIDATION_ERROR, problem)
    # routed by the registry (the contract's active financing), never by a stage
    route = route_treasury_payment(notice.payee_account_no, await contract_holder(state, notice.contract_no))
    status, is_new = await state.repos.payments.record(notice, raw, route)
    application_id = route.application_id
    if is_new and application_id is not None:
        status = await _hand_over(state, notice, application_id, status)
        if status == "unmatched":
            application_id = None
    await record(
        state,
        "treasury",
        "treasury.payment",
        application_id,
        payment_id=notice.payment_id,
        contract_no=notice.contract_no,
        amount=str(notice.amount),
        status=status,
    )
    return {"status": status}


async def _hand_over(state: AppState, notice: TreasuryPayment, application_id: str, status: PaymentStatus) -> Any:
    """Signal the financing. Recorded first, so a failure here loses nothing: redelivery
    sends it again. A financing that ended in between (it settled and released the contract
    after the look-up) makes the payment unmatched, kept for ops — answered as such."""
    try:
        delivered = await temporal_ops.signal(state.temporal, application_id, names.SIGNAL_TREASURY_PAYMENT, notice)
    except Exception as error:
        log.warning("payment_signal_failed", payment_id=notice.payment_id, error=type(error).__name__)
        return status
    if not delivered:
        await state.repos.payments.unmatch(notice.payment_id, f"financing {application_id} had ended")
        return "unmatched"
    await state.repos.payments.mark_delivered(notice.payment_id)
    return status
