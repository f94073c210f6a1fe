"""Submitting an application (API.md "Applications (banks)"): the one path every application
takes — a bank's own `POST /v1/applications` (`submit`) and a supplier's accepted offer
(`accept_offer`), which the platform submits on the offering bank's behalf.

The financing workflow is started (or joined) under an id and its answer awaited. With an
`Idempotency-Key` the id is derived from the bank and the key, so a retry joins the same
workflow; the key's row remembers the first answer and the id it went to, and a request the
workflow refused leaves a closed workflow under the derived id, so the next request with the
key moves to the next id (`start_fresh`). A submission that takes longer than the wait is a 503
(`SubmissionPending`): the application exists and carries on, a retry hears its answer."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from fastapi.responses import JSONResponse

from api import idempotency, temporal_ops
from api.answers import answered_view
from api.audit import record
from api.problems import Problem
from api.state import AppState
from domain.application import (
    ApplicationRequest,
    ApplicationView,
    CollectionAccount,
    Deadlines,
    FinancingInput,
    Preapproval,
    business_date,
)
from domain.errors import HTTP_STATUS, ErrorCode
from domain.state_council_calendar import state_council_calendar
from store.financing_requests import NotOpen, OfferRecord, RequestRecord
from store.idempotency import request_hash
from store.principals import Principal

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


class SubmissionPending(Problem):
    """503 for a submission still in progress; the application exists and carries on."""

    def __init__(self, application_id: str, detail: str, *, headers: dict[str, str]) -> None:
        super().__init__(ErrorCode.UPSTREAM_UNAVAILABLE, detail, headers=headers)
        self.application_id = application_id


async def start(
    state: AppState,
    bank_code: str,
    body: ApplicationRequest,
    application_id: str,
    preapproved: Preapproval | None = None,
) -> ApplicationView:
    """Start (or join) the financing workflow and wait for its answer."""
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


async def start_fresh(
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
            return await start(state, bank_code, body, candidate, preapproved)
        except temporal_ops.AlreadyClosed:
            recorded = await state.repos.applications.get(candidate)
            if recorded is not None:
                return recorded  # it was accepted once (its answer was lost): the same application
            candidate = keyed_application_id(bank_code, key, generation)
    raise Problem(ErrorCode.INTERNAL_ERROR, "could not start the application")


def _dump(view: ApplicationView) -> dict[str, Any]:
    return view.model_dump(mode="json")


async def submit(state: AppState, who: Principal, body: ApplicationRequest, sent: Any, key: str | None) -> JSONResponse:
    """A bank's submission (`sent`: its body as parsed JSON, what a key's request is compared
    by), at most once per Idempotency-Key: 201 with the application, or the first answer again."""
    bank_code = who.bank_code
    assert bank_code is not None  # a bank's
    if key is None:
        application_id = uuid.uuid4().hex
        try:
            view = await start(state, bank_code, body, application_id)
        except SubmissionPending:
            # the application exists and carries on: the trail must say who submitted it
            await record(
                state, who.name, "application.submitted", application_id, contract_no=body.contract_no, pending=True
            )
            raise
        await record(state, who.name, "application.submitted", application_id, contract_no=body.contract_no)
        return JSONResponse(_dump(view), status_code=201)

    digest = request_hash(sent)
    keys = state.repos.idempotency
    base_id = keyed_application_id(bank_code, key)
    existing = await keys.reserve(bank_code, key, digest, application_id=base_id)
    if existing is not None:
        if existing.request_hash != digest:
            raise Problem(
                ErrorCode.IDEMPOTENCY_KEY_MISMATCH, "this Idempotency-Key was used with a different request body"
            )
        if existing.response_status is not None:
            return JSONResponse(
                existing.response_body, status_code=existing.response_status, headers=idempotency.REPLAYED
            )
    stored = await keys.lookup(bank_code, key)
    application_id = (stored.application_id if stored else None) or base_id
    try:
        view = await start_fresh(state, bank_code, body, key, application_id)
    except SubmissionPending as pending:
        # still being verified: the trail says whose it is, so a GET by id can follow it
        await record(
            state, who.name, "application.submitted", pending.application_id, contract_no=body.contract_no, pending=True
        )
        if existing is None:
            await keys.release(bank_code, key)
        raise
    except BaseException:
        if existing is None:
            await keys.release(bank_code, key)
        raise
    payload = _dump(view)
    await keys.store(bank_code, key, 201, payload, view.application_id)
    await record(
        state, who.name, "application.submitted", view.application_id, contract_no=body.contract_no, idempotent=True
    )
    return JSONResponse(payload, status_code=201)


async def accept_offer(state: AppState, who: Principal, request: RequestRecord, offer: OfferRecord) -> ApplicationView:
    """A supplier picks `offer` on its `request`: the platform submits the application for the
    offer's amount on the offering bank's behalf, through `start_fresh` (idempotent by the
    request: accepting again answers the same application), already approved at the offer's
    terms. The request becomes accepted and the other offers lapse; a refusal of the submission
    opens the request again."""
    request_id, requests = request.request_id, state.repos.financing_requests
    try:
        acceptance = await requests.begin_accept(request_id, offer.offer_id)
    except NotOpen as error:
        detail = (
            f"the offer is {error.status.removeprefix('offer ')}, not open"  # lapsed, replaced
            if error.status.startswith("offer ")
            else f"the financing request is {error.status}, not open"
        )
        raise Problem(ErrorCode.INVALID_STATE, detail) from error
    if acceptance.how == "done" and acceptance.request.application_id:
        return await _accepted(state, acceptance.request.application_id)  # accepted before: its application
    submission = ApplicationRequest(
        contract_no=request.contract_no,
        supplier_credit_code=request.supplier_credit_code,
        product_code=offer.product_code,
        requested_amount=offer.approved_amount,
        collection_account=CollectionAccount(
            account_no=request.collection_account_no, account_name=request.collection_account_name
        ),
    )
    terms = Preapproval(
        request_id=request_id,
        offer_id=offer.offer_id,
        approved_amount=offer.approved_amount,
        annual_rate=offer.annual_rate,
        term_days=offer.term_days,
    )
    key = f"financing-request:{request_id}"

    async def note(candidate: str) -> None:
        await requests.note_application(request_id, candidate)

    on_behalf = {"channel": "financing_request", "request_id": request_id, "offer_id": offer.offer_id}
    try:
        view = await start_fresh(
            state,
            offer.bank_code,
            submission,
            key,
            keyed_application_id(offer.bank_code, key),
            preapproved=terms,
            on_candidate=note,
        )
    except SubmissionPending as pending:
        # still being verified: the bank's trail says whose it is (as for a bank's own submission)
        await record(
            state, f"bank:{offer.bank_code}", "application.submitted", pending.application_id,
            contract_no=request.contract_no, accepted_by=who.name, pending=True, **on_behalf,
        )  # fmt: skip
        raise
    except Problem as problem:
        if HTTP_STATUS[problem.code] < 500:
            await requests.undo_accept(request_id, offer.offer_id)  # refused: the request is open again
        raise
    await requests.finish_accept(request_id, offer.offer_id, view.application_id)
    await record(
        state, f"bank:{offer.bank_code}", "application.submitted", view.application_id,
        contract_no=request.contract_no, accepted_by=who.name, **on_behalf,
    )  # fmt: skip
    await record(state, who.name, "supplier.offer_accepted", view.application_id, **on_behalf)
    return view


async def _accepted(state: AppState, application_id: str) -> ApplicationView:
    view = await state.repos.applications.get(application_id)
    if view is None:
        view = await temporal_ops.query_view(state.temporal, application_id)
    if view is None:
        raise Problem(ErrorCode.NOT_FOUND, f"no application {application_id}")
    return view
