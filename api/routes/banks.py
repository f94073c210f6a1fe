"""The banks' endpoints (API.md "Applications (banks)")."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from api import cursors, edge, idempotency, temporal_ops
from api.answers import answered_view, update_application
from api.audit import record
from api.auth import AnyPrincipal, BankPrincipal, State
from api.edge import require_path_id
from api.problems import Problem, problem_responses
from api.stage_guard import require_reachable
from api.state import AppState
from api.visibility import visible_view
from domain import workflow_api as names
from domain.application import (
    ApplicationRequest,
    ApplicationView,
    Deadlines,
    Decision,
    FinancingInput,
    Preapproval,
    RepaymentReceipt,
    SupplierRepayment,
    Withdrawal,
    WriteOff,
    business_date,
)
from domain.errors import ErrorCode
from domain.stages import REPAYABLE_STAGES, WITHDRAWABLE_STAGES, Stage
from domain.state_council_calendar import state_council_calendar
from domain.verification import repayment_date_problem
from store.cursors import InvalidCursor
from store.idempotency import request_hash
from store.principals import Principal

IdempotencyKey = Annotated[str | None, Depends(edge.idempotency_key)]

router = APIRouter(tags=["applications"], responses=problem_responses(401, 403, 404, 409, 422, 503))

_ID_NAMESPACE = uuid.UUID("0b4f9c8e-6d1a-4f57-9a8e-2c3b7d9e1f20")


def keyed_application_id(bank_code: str, key: str, generation: int = 0) -> str:
    name = f"{bank_code}\x1f{key}" + (f"\x1f{generation}" if generation else "")
    return uuid.uuid5(_ID_NAMESPACE, name).hex


def deadlines(state: AppState) -> Deadlines:
    s = state.settings
    return Deadlines(
        review_expiry_days=s.review_expiry_days,
        lock_attention_days=s.lock_attention_days,
        lock_expiry_days=s.lock_expiry_days,
        disbursement_attention_minutes=s.disbursement_attention_minutes,
    )


def _dump(view: ApplicationView) -> dict[str, Any]:
    return view.model_dump(mode="json")


async def _start(
    state: AppState,
    bank_code: str,
    body: ApplicationRequest,
    application_id: str,
    preapproved: Preapproval | None = None,
) -> ApplicationView:
    """Start (or join) the financing workflow and wait for its answer: the one path every
    application takes, the bank's own and the supplier's accepted offer (`preapproved`)."""
    product = await state.repos.banks.get_product(bank_code, body.product_code)
    if product is not None and state.settings.review_sla_days is not None:
        product = product.model_copy(update={"review_sla_days": state.settings.review_sla_days})
    now = datetime.now(UTC)
    inp = FinancingInput(
        application_id=application_id,
        bank_code=bank_code,
        request=body,
        product=product,
        submitted_at=now,
        deadlines=deadlines(state),
        calendar=state_council_calendar(business_date(now).year),  # its SLA counts working days
        preapproved=preapproved,
    )
    try:
        answer = await temporal_ops.submit(
            state.temporal, inp, state.settings.task_queue, state.settings.submission_wait_seconds
        )
    except temporal_ops.StillProcessing:
        # A bank's HTTP client should not hang while the procurement or its own credit system
        # is slow: the process keeps going, and the answer is one retry away.
        raise SubmissionPending(
            application_id,
            f"application {application_id} is still being verified and handed to the bank's review "
            "(an external system is slow or down; the platform keeps retrying). Retry this request "
            "with the same Idempotency-Key to receive its answer, or GET /v1/applications/"
            f"{application_id}.",
            headers={"Retry-After": "5"},
        ) from None
    return await answered_view(state, answer)


class SubmissionPending(Problem):
    """503 for a submission still in progress; the application exists and carries on."""

    def __init__(self, application_id: str, detail: str, *, headers: dict[str, str]) -> None:
        super().__init__(ErrorCode.UPSTREAM_UNAVAILABLE, detail, headers=headers)
        self.application_id = application_id


@router.post("/v1/applications", status_code=201, response_model=ApplicationView)
async def submit_application(
    body: ApplicationRequest,
    request: Request,
    who: BankPrincipal,
    state: State,
    idempotency_key: Annotated[str | None, Depends(edge.idempotency_key)] = None,
) -> Any:
    bank_code = who.bank_code
    assert bank_code is not None
    if idempotency_key is None:
        application_id = uuid.uuid4().hex
        try:
            view = await _start(state, bank_code, body, application_id)
        except SubmissionPending:
            # the application exists and carries on: the trail must say who submitted it
            await record(
                state, who.name, "application.submitted", application_id, contract_no=body.contract_no, pending=True
            )
            raise
        await record(state, who.name, "application.submitted", application_id, contract_no=body.contract_no)
        return JSONResponse(_dump(view), status_code=201)

    digest = request_hash(await request.json())
    keys = state.repos.idempotency
    base_id = keyed_application_id(bank_code, idempotency_key)
    existing = await keys.reserve(bank_code, idempotency_key, digest, application_id=base_id)
    if existing is not None:
        if existing.request_hash != digest:
            raise Problem(
                ErrorCode.IDEMPOTENCY_KEY_MISMATCH, "this Idempotency-Key was used with a different request body"
            )
        if existing.response_status is not None:
            return JSONResponse(
                existing.response_body, status_code=existing.response_status, headers=idempotency.REPLAYED
            )
    stored = await keys.lookup(bank_code, idempotency_key)
    application_id = (stored.application_id if stored else None) or base_id
    try:
        view = await _start_fresh(state, bank_code, body, idempotency_key, application_id)
    except SubmissionPending as pending:
        # still being verified: the trail says whose it is, so a GET by id can follow it
        await record(
            state, who.name, "application.submitted", pending.application_id, contract_no=body.contract_no, pending=True
        )
        if existing is None:
            await keys.release(bank_code, idempotency_key)
        raise
    except BaseException:
        if existing is None:
            await keys.release(bank_code, idempotency_key)
        raise
    payload = _dump(view)
    await keys.store(bank_code, idempotency_key, 201, payload, view.application_id)
    await record(
        state, who.name, "application.submitted", view.application_id, contract_no=body.contract_no, idempotent=True
    )
    return JSONResponse(payload, status_code=201)


async def _start_fresh(
    state: AppState,
    bank_code: str,
    body: ApplicationRequest,
    key: str,
    application_id: str,
    preapproved: Preapproval | None = None,
    on_candidate: Callable[[str], Awaitable[None]] | None = None,
) -> ApplicationView:
    """Start (or join) the workflow for a keyed request. An earlier request with this key
    that was refused left a closed workflow under the derived id: move to the next id.
    `on_candidate` hears each id before it is started (a caller keeping it in its own record)."""
    candidate = application_id
    for generation in range(1, 50):
        try:
            if on_candidate is not None:
                await on_candidate(candidate)
            return await _start(state, bank_code, body, candidate, preapproved)
        except temporal_ops.AlreadyClosed:
            recorded = await state.repos.applications.get(candidate)
            if recorded is not None:
                return recorded  # it was accepted once (its answer was lost): the same application
            candidate = keyed_application_id(bank_code, key, generation)
    raise Problem(ErrorCode.INTERNAL_ERROR, "could not start the application")


@router.get("/v1/applications/{application_id}", response_model=ApplicationView)
async def get_application(application_id: str, who: AnyPrincipal, state: State) -> Any:
    return _dump(await visible_view(state, who, application_id))


@router.get("/v1/applications")
async def list_applications(
    who: AnyPrincipal,
    state: State,
    stage: Stage | None = None,
    contract_no: str | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: str | None = None,
    updated_since: Annotated[
        datetime | None,
        Query(description="only applications whose record changed at or after this instant (with its offset)"),
    ] = None,
) -> Any:
    edge.require_filter_id(contract_no, "contract_no")
    edge.require_filter_instant(updated_since, "updated_since")
    try:
        items, next_cursor = await state.repos.applications.list(
            bank_code=None if who.is_ops else who.bank_code,
            stage=stage,
            contract_no=contract_no,
            updated_since=updated_since,
            limit=limit,
            cursor=cursors.opened(state.settings, cursor),
        )
    except InvalidCursor as error:
        raise Problem(ErrorCode.VALIDATION_ERROR, str(error)) from error
    return {"items": [_dump(v) for v in items], "next_cursor": cursors.sign(state.settings, next_cursor)}


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
