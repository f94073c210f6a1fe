"""The supplier's own channel (API.md v1.1 "Suppliers"): its contracts with what every bank would
lend, its applications (every channel), and the financing requests it posts to every bank, with
the offers it picks from. Accepting an offer submits the application on that bank's behalf
through the path of `POST /v1/applications` (idempotent by the request id; api/submission.py)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from fastapi.responses import JSONResponse

from api import cursors, temporal_ops
from api.audit import record
from api.auth import State, SupplierPrincipal, supplier_principal
from api.edge import require_path_id
from api.problems import Problem, problem_responses
from api.state import AppState
from api.submission import accept_offer
from api.supplier_views import (
    Catalogue,
    asking_procurement,
    procurement,
    request_contract,
    request_problem,
    supplier_application,
    supplier_contracts,
    supplier_request_view,
    today,
)
from domain.application import ApplicationView, business_date
from domain.credit_profile import build_credit_profile
from domain.errors import ErrorCode
from domain.products import known_paid
from domain.state_council_calendar import state_council_calendar
from domain.supplier_channel import (
    AcceptBody,
    FinancingRequestBody,
    SupplierApplicationView,
    SupplierRequestView,
    request_expires_at,
)
from store.cursors import InvalidCursor
from store.financing_requests import AlreadyOpen, NotOpen, RequestRecord
from store.principals import Principal

router = APIRouter(
    tags=["suppliers"], responses=problem_responses(401, 403, 503), dependencies=[Depends(supplier_principal)]
)


def _credit_code(who: Principal) -> str:
    assert who.credit_code is not None  # SupplierPrincipal guarantees it
    return who.credit_code


# ---- contracts -------------------------------------------------------------------------------


@router.get(
    "/v1/supplier/contracts",
    summary="The supplier's contracts, with what every bank would lend on each",
    description=(
        "Every contract the procurement system holds for the signed-in supplier, with its active "
        "financing (application id and stage, or null) and, for each seeded bank product, the "
        "eligible maximum computed exactly as verification computes it (max_ratio × (amount − paid), "
        "paid as the platform knows it, rounded down to the fen; 0.00 where verification would refuse "
        "the contract, e.g. not effective). Smart service additions: `term_advice` (the term that ends "
        "after the expected payment) and, per product, a `maturity_warning` when even its longest term "
        "ends before it. **503** `upstream_unavailable` when the procurement system cannot be reached."
    ),
)
async def contracts(who: SupplierPrincipal, state: State) -> Any:
    items = await supplier_contracts(state, _credit_code(who))
    return {"items": [item.model_dump(mode="json") for item in items], "next_cursor": None}


# ---- applications ------------------------------------------------------------------------------


@router.get(
    "/v1/supplier/applications",
    summary="The supplier's applications, every channel",
    description=(
        "The signed-in supplier's applications, whichever bank or channel submitted them, newest "
        "first: each as a bank's GET shows it, with the credit profile reduced to score, grade and "
        "its reasons in plain Chinese. `?limit=&cursor=`; a cursor this API did not issue: **422**."
    ),
    responses=problem_responses(422),
)
async def applications(
    who: SupplierPrincipal,
    state: State,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: str | None = None,
) -> Any:
    try:
        items, next_cursor = await state.repos.applications.list(
            supplier_credit_code=_credit_code(who), limit=limit, cursor=cursors.opened(state.settings, cursor)
        )
    except InvalidCursor as error:
        raise Problem(ErrorCode.VALIDATION_ERROR, str(error)) from error
    return {"items": [supplier_application(v) for v in items], "next_cursor": cursors.sign(state.settings, next_cursor)}


async def _own_application(state: AppState, who: Principal, application_id: str) -> ApplicationView:
    require_path_id(application_id)
    view = await state.repos.applications.get(application_id)
    if view is None:
        # an accepted offer still being verified: the supplier's own request names it
        pending = await _request_naming(state, who, application_id)
        if pending is not None:
            view = await temporal_ops.query_view(state.temporal, application_id)
            if view is not None and view.stage.is_final:
                view = None  # refused at verification: it never existed for anyone
    if view is None or view.supplier_credit_code != who.credit_code:
        raise Problem(ErrorCode.NOT_FOUND, f"no application {application_id}")
    return view


async def _request_naming(state: AppState, who: Principal, application_id: str) -> RequestRecord | None:
    for request in await state.repos.financing_requests.of_supplier(_credit_code(who)):
        if request.application_id == application_id:
            return request
    return None


@router.get(
    "/v1/supplier/applications/{application_id}",
    response_model=SupplierApplicationView,
    summary="One of the supplier's applications",
    description=(
        "Stage, timeline, amounts, the loan's repayments (`principal_repaid`, `interest_paid`, "
        "`messages`) and the surplus released to the supplier. **404** `not_found` for an id that is "
        "not the supplier's (exactly as for an unknown one)."
    ),
    responses=problem_responses(404),
)
async def application(application_id: str, who: SupplierPrincipal, state: State) -> Any:
    return supplier_application(await _own_application(state, who, application_id))


# ---- financing requests --------------------------------------------------------------------------


async def _own_request(state: AppState, who: Principal, request_id: str) -> RequestRecord:
    require_path_id(request_id, "financing request")
    request = await state.repos.financing_requests.get(request_id)
    if request is None or request.supplier_credit_code != who.credit_code:
        raise Problem(ErrorCode.NOT_FOUND, f"no financing request {request_id}")
    return request


def _already_financed(contract_no: str, why: str) -> Problem:
    return Problem(ErrorCode.CONTRACT_ALREADY_FINANCED, f"contract {contract_no} {why}")


@router.post(
    "/v1/supplier/financing-requests",
    status_code=201,
    response_model=SupplierRequestView,
    summary="Post a financing request that every bank sees",
    description=(
        "A request for financing on one of the supplier's contracts, broadcast to every seeded bank "
        "(banks list it at `GET /v1/financing-requests` and answer with offers). Refused as a "
        "submission is, in the same order: **422** `validation_error` for a malformed body or "
        "`requested_amount` ≤ 0; **404** `contract_not_found`; **409** `contract_already_financed` "
        "while a request or an application is open on the contract (or a financing not yet settled "
        "holds it); **422** `validation_error` for another supplier's contract, one that is not "
        "`effective`, or an amount above what every bank's product would lend. **201** with the "
        "request in status `open` and `suggested_term_days` (the term that ends after the contract's "
        "expected payment). An addition: the request stays open until `expires_at`, the end of the "
        "`ZCD_FINANCING_REQUEST_OPEN_WORKING_DAYS`-th working day (default 7, State Council calendar) "
        "after the day it was made; still open then, it becomes `expired`, its open offers lapse and "
        "the contract is free for a new request or a bank's application."
    ),
    responses=problem_responses(404, 409, 422),
)
async def post_request(body: FinancingRequestBody, who: SupplierPrincipal, state: State) -> Any:
    credit_code = _credit_code(who)
    contract = await asking_procurement(procurement(state).get_contract(body.contract_no))
    repos = state.repos
    if await repos.financing_requests.in_play_for(contract.contract_no) is not None:
        raise _already_financed(contract.contract_no, "has an open financing request")
    if await repos.registry.holder(contract.contract_no) is not None or await repos.applications.has_active(
        contract.contract_no
    ):
        raise _already_financed(contract.contract_no, "already has an active financing")
    catalogue = await Catalogue.read(state)
    recorded = await repos.payments.recorded_total(contract.contract_no)
    problem = request_problem(contract, credit_code, body.requested_amount, catalogue, recorded)
    if problem is not None:
        raise Problem(ErrorCode.VALIDATION_ERROR, problem)
    history = await asking_procurement(procurement(state).supplier_history(credit_code))
    now = datetime.now(UTC)
    open_days = state.settings.financing_request_open_working_days
    try:
        created = await repos.financing_requests.create(
            supplier_credit_code=credit_code,
            supplier_name=contract.supplier.name,
            contract=request_contract(contract, known_paid(contract.paid_amount, recorded)),
            requested_amount=body.requested_amount,
            collection_account_no=body.collection_account.account_no,
            collection_account_name=body.collection_account.account_name,
            known_paid=known_paid(contract.paid_amount, recorded),
            credit_profile=build_credit_profile(history),
            created_at=now,
            expires_at=request_expires_at(state_council_calendar(business_date(now).year), now, open_days),
        )
    except AlreadyOpen as error:  # another request won the race
        raise _already_financed(contract.contract_no, "has an open financing request") from error
    await record(
        state,
        who.name,
        "supplier.financing_requested",
        None,
        request_id=created.request_id,
        contract_no=created.contract_no,
        requested_amount=str(created.requested_amount),
        expires_at=created.expires_at.isoformat(),
    )
    view = supplier_request_view(created, catalogue, today())
    return JSONResponse(view.model_dump(mode="json"), status_code=201)


@router.get(
    "/v1/supplier/financing-requests",
    summary="The supplier's financing requests",
    description=(
        "Newest first, each with every bank's offers and its status: `open` (until `expires_at`), "
        "`accepting`, `accepted`, `cancelled` or `expired` (still open at `expires_at`: its offers lapsed)."
    ),
)
async def list_requests(who: SupplierPrincipal, state: State) -> Any:
    catalogue, on = await Catalogue.read(state), today()
    mine = await state.repos.financing_requests.of_supplier(_credit_code(who))
    return {
        "items": [supplier_request_view(r, catalogue, on).model_dump(mode="json") for r in mine],
        "next_cursor": None,
    }


@router.get(
    "/v1/supplier/financing-requests/{request_id}",
    response_model=SupplierRequestView,
    summary="A financing request with the banks' offers",
    description=(
        "Every offer with its status (`open`, `accepted`, `lapsed`, `replaced`), its estimated "
        "maturity if paid out today, and a `maturity_warning` (with a suggested term) when the loan "
        "would fall due before the contract's expected payment. **404** `not_found` for a request "
        "that is not the supplier's."
    ),
    responses=problem_responses(404),
)
async def get_request(request_id: str, who: SupplierPrincipal, state: State) -> Any:
    request = await _own_request(state, who, request_id)
    return supplier_request_view(request, await Catalogue.read(state), today()).model_dump(mode="json")


@router.post(
    "/v1/supplier/financing-requests/{request_id}/accept",
    status_code=201,
    response_model=SupplierApplicationView,
    summary="Pick an offer: the platform submits the application on the bank's behalf",
    description=(
        "The platform submits the application for the offer's amount on the offering bank's behalf, "
        "through the same path as `POST /v1/applications` (idempotent by the request: accepting the "
        "same offer again answers the same application), and it runs as any other — verified against "
        "the procurement system, then already approved at the offer's terms (stage `account_lock` "
        "next). **201** with the application. The request becomes `accepted`, the other offers lapse; "
        "the bank sees the application in its list and events. **404** `not_found` for a request or "
        "offer that is not the supplier's; **409** `invalid_state` for a request that is not open (e.g. "
        "`expired`: past its `expires_at`) or an offer that lapsed or was replaced; a verification "
        "refusal as a submission's (**404** `contract_not_found`, **409** `contract_already_financed`, "
        "**422** `validation_error`), after which the request is open again (or `expired`, if its time "
        "passed meanwhile); **503** `upstream_unavailable` with `Retry-After` while "
        "verification takes long (retry the same acceptance for the answer)."
    ),
    responses=problem_responses(404, 409, 422),
)
async def accept(request_id: str, body: AcceptBody, who: SupplierPrincipal, state: State) -> Any:
    request = await _own_request(state, who, request_id)
    offer = request.offer(body.offer_id)
    if offer is None:
        raise Problem(ErrorCode.NOT_FOUND, f"no offer {body.offer_id} on financing request {request_id}")
    view = await accept_offer(state, who, request, offer)
    return JSONResponse(supplier_application(view), status_code=201)


@router.post(
    "/v1/supplier/financing-requests/{request_id}/cancel",
    response_model=SupplierRequestView,
    summary="Withdraw an open financing request",
    description=(
        "The request is `cancelled` and its offers lapse; the contract is free for a new request or "
        "a bank's application. **409** `invalid_state` unless the request is `open` (an `expired` one "
        "freed the contract already); **404** "
        "`not_found` for a request that is not the supplier's."
    ),
    responses=problem_responses(404, 409),
)
async def cancel(request_id: str, who: SupplierPrincipal, state: State) -> Any:
    request = await _own_request(state, who, request_id)
    try:
        await state.repos.financing_requests.cancel(request.request_id)
    except NotOpen as error:
        raise Problem(ErrorCode.INVALID_STATE, f"the request is {error.status}, not open") from error
    await record(state, who.name, "supplier.financing_request_cancelled", None, request_id=request_id)
    cancelled = await state.repos.financing_requests.get(request_id)
    assert cancelled is not None
    return supplier_request_view(cancelled, await Catalogue.read(state), today()).model_dump(mode="json")
