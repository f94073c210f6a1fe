"""The treasury's payments and the procurement system's answers, taken in (their signatures
already checked by their routers): each is routed by the registry (the contract's active
financing, never a stage; `domain.routing`), recorded in its inbox before anything else, handed
to the financing, and written to the audit trail. A hand-over that fails loses nothing: the
inbox keeps the message and api/redelivery.py sends it again. A financing that ended in between
(it settled and released the contract after the look-up) makes the message unmatched, kept for
ops — and answered as such."""

from __future__ import annotations

from datetime import UTC, datetime

import structlog

from api import temporal_ops
from api.audit import record
from api.problems import Problem
from api.routing import contract_holder
from api.state import AppState
from domain import workflow_api as names
from domain.application import AccountChangeEvent, TreasuryPayment, business_date
from domain.errors import ErrorCode
from domain.routing import route_account_change, route_treasury_payment
from domain.verification import payment_date_problem
from store.payments import PaymentStatus

_treasury_log = structlog.get_logger("api.treasury")
_procurement_log = structlog.get_logger("api.procurement")


async def take_payment(state: AppState, notice: TreasuryPayment, raw: bytes) -> PaymentStatus:
    """A treasury payment notice (`raw`: its signed body, kept in the inbox): its status."""
    problem = payment_date_problem(notice.paid_on, business_date(datetime.now(UTC)))
    if problem:  # refused before anything is recorded
        raise Problem(ErrorCode.VALIDATION_ERROR, problem)
    route = route_treasury_payment(notice.payee_account_no, await contract_holder(state, notice.contract_no))
    status, is_new = await state.repos.payments.record(notice, raw, route)
    application_id = route.application_id
    if is_new and application_id is not None:
        status = await _hand_over_payment(state, notice, application_id, status)
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
    return status


async def _hand_over_payment(
    state: AppState, notice: TreasuryPayment, application_id: str, status: PaymentStatus
) -> PaymentStatus:
    try:
        delivered = await temporal_ops.signal(state.temporal, application_id, names.SIGNAL_TREASURY_PAYMENT, notice)
    except Exception as error:
        _treasury_log.warning("payment_signal_failed", payment_id=notice.payment_id, error=type(error).__name__)
        return status
    if not delivered:
        await state.repos.payments.unmatch(notice.payment_id, f"financing {application_id} had ended")
        return "unmatched"
    await state.repos.payments.mark_delivered(notice.payment_id)
    return status


async def take_account_change(state: AppState, event: AccountChangeEvent, raw: bytes) -> str:
    """The purchaser's answer to the payee-account change (`raw`: its signed body): its status.
    The contract's active financing takes it whenever it comes (also while the platform is
    still asking for the change), else it is kept for a person."""
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
            _procurement_log.warning(
                "account_change_signal_failed", event_id=event.event_id, error=type(error).__name__
            )
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
    return status
