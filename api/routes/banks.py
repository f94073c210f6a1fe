"""What a bank does to its applications (API.md "Applications (banks)"): submit one, decide,
withdraw, report a supplier's repayment, write off — for banks only; reading them (banks and
ops) is api/routes/applications.py. Every change accepts `Idempotency-Key` (api/idempotency.py;
a submission's own scheme is api/submission.py)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel

from api import edge, idempotency, submission, temporal_ops
from api.answers import update_application
from api.audit import record
from api.auth import BankPrincipal, State, bank_principal
from api.edge import require_path_id
from api.problems import Problem, problem_responses
from api.stage_guard import require_reachable
from api.state import AppState
from api.visibility import visible_view
from domain import workflow_api as names
from domain.application import (
    ApplicationRequest,
    ApplicationView,
    Decision,
    RepaymentReceipt,
    SupplierRepayment,
    Withdrawal,
    WriteOff,
    business_date,
)
from domain.errors import ErrorCode
from domain.stages import REPAYABLE_STAGES, WITHDRAWABLE_STAGES, Stage
from domain.verification import repayment_date_problem
from store.principals import Principal

IdempotencyKey = Annotated[str | None, Depends(edge.idempotency_key)]

router = APIRouter(
    tags=["applications"],
    responses=problem_responses(401, 403, 404, 409, 422, 503),
    dependencies=[Depends(bank_principal)],
)


def _dump(view: ApplicationView) -> dict[str, Any]:
    return view.model_dump(mode="json")


@router.post("/v1/applications", status_code=201, response_model=ApplicationView)
async def submit_application(
    body: ApplicationRequest,
    request: Request,
    who: BankPrincipal,
    state: State,
    idempotency_key: Annotated[str | None, Depends(edge.idempotency_key)] = None,
) -> Any:
    return await submission.submit(state, who, body, await request.json(), idempotency_key)


async def _own(state: AppState, who: Principal, application_id: str) -> ApplicationView:
    view = await visible_view(state, who, application_id)
    if view.bank_code != who.bank_code:
        raise Problem(ErrorCode.NOT_FOUND, f"no application {application_id}")
    return view


@router.post("/v1/applications/{application_id}/decision", response_model=ApplicationView)
async def decide(
    application_id: str, body: Decision, who: BankPrincipal, state: State, key: IdempotencyKey = None
) -> Any:
    async def act(resumed: bool) -> tuple[int, Any]:
        recorded = await _own(state, who, application_id)
        if resumed and _decided_as(recorded, body):
            return 200, _dump(recorded)  # a retry whose first attempt's answer was lost: its answer
        require_reachable(recorded, {Stage.BANK_REVIEW}, "decide")
        view = await update_application(state, application_id, names.UPDATE_DECIDE, body)
        await record(state, who.name, f"application.{body.decision}", application_id, **body.model_dump(mode="json"))
        return 200, _dump(view)

    return await _once(state, who, key, "decision", application_id, body, act)


@router.post("/v1/applications/{application_id}/withdraw", response_model=ApplicationView)
async def withdraw(
    application_id: str,
    who: BankPrincipal,
    state: State,
    body: Withdrawal | None = None,
    key: IdempotencyKey = None,
) -> Any:
    async def act(resumed: bool) -> tuple[int, Any]:
        recorded = await _own(state, who, application_id)
        if resumed and recorded.stage == Stage.WITHDRAWN:
            return 200, _dump(recorded)  # a retry whose first attempt's answer was lost
        require_reachable(recorded, WITHDRAWABLE_STAGES, "withdraw")
        view = await update_application(state, application_id, names.UPDATE_WITHDRAW, body or Withdrawal())
        await record(state, who.name, "application.withdrawn", application_id)
        return 200, _dump(view)

    return await _once(state, who, key, "withdraw", application_id, body, act)


@router.post("/v1/applications/{application_id}/repayments", response_model=RepaymentReceipt)
async def report_repayment(
    application_id: str, body: SupplierRepayment, who: BankPrincipal, state: State, key: IdempotencyKey = None
) -> Any:
    async def act(resumed: bool) -> tuple[int, Any]:
        view = await _own(state, who, application_id)
        if any(m.kind == "supplier_repayment" and m.message_id == body.repayment_id for m in view.messages):
            # the record shows it taken: applied once, whatever the stage now. A keyed retry whose
            # first answer was lost hears that first answer; another request with the id, duplicate
            return 200, {"status": "accepted" if resumed else "duplicate"}
        require_reachable(view, REPAYABLE_STAGES, "report a repayment")
        if view.disbursed_on is not None:  # the workflow checks it too (its validator is the rule)
            problem = repayment_date_problem(body.paid_on, view.disbursed_on, business_date(datetime.now(UTC)))
            if problem:
                raise Problem(ErrorCode.VALIDATION_ERROR, problem)
        receipt = await temporal_ops.update(
            state.temporal, application_id, names.UPDATE_REPORT_REPAYMENT, body, RepaymentReceipt
        )
        await record(
            state,
            who.name,
            "application.repayment_reported",
            application_id,
            repayment_id=body.repayment_id,
            amount=str(body.amount),
            status=receipt.status,
        )
        return 200, receipt.model_dump(mode="json")

    return await _once(state, who, key, "repayments", application_id, body, act)


@router.post("/v1/applications/{application_id}/write-off", response_model=ApplicationView)
async def write_off(
    application_id: str, body: WriteOff, who: BankPrincipal, state: State, key: IdempotencyKey = None
) -> Any:
    async def act(resumed: bool) -> tuple[int, Any]:
        recorded = await _own(state, who, application_id)
        if resumed and recorded.stage == Stage.WRITTEN_OFF:
            return 200, _dump(recorded)  # a retry whose first attempt's answer was lost
        require_reachable(recorded, {Stage.OVERDUE}, "write off")
        view = await update_application(state, application_id, names.UPDATE_WRITE_OFF, body)
        await record(state, who.name, "application.written_off", application_id, reason=body.reason)
        return 200, _dump(view)

    return await _once(state, who, key, "write-off", application_id, body, act)


def _decided_as(view: ApplicationView, decision: Decision) -> bool:
    """The record shows this very decision taken (by a first attempt whose answer was lost)."""
    if decision.decision == "reject":
        return view.stage == Stage.REJECTED
    return view.stage != Stage.BANK_REVIEW and (view.approved_amount, view.annual_rate, view.term_days) == (
        decision.approved_amount,
        decision.annual_rate,
        decision.term_days,
    )


async def _once(
    state: AppState,
    who: Principal,
    key: str | None,
    endpoint: str,
    application_id: str,
    body: BaseModel | None,
    act: Callable[[bool], Awaitable[tuple[int, Any]]],
) -> Any:
    """The change, at most once per Idempotency-Key (scoped to the bank and this endpoint)."""
    assert who.bank_code is not None
    require_path_id(application_id)
    parsed = body.model_dump(mode="json") if body is not None else None
    scope = idempotency.scoped_key(endpoint, application_id, key) if key is not None else None
    return await idempotency.once(state, who.bank_code, scope, endpoint, parsed, act)
