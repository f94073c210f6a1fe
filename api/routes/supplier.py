"""The supplier's own channel (API.md v1.1 "Suppliers"): its contracts with what every bank would
lend, its applications (every channel), and the financing requests it posts to every bank, with
the offers it picks from. Accepting an offer submits the application on that bank's behalf
through the path of `POST /v1/applications` (idempotent by the request id)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from fastapi.responses import JSONResponse

from api import cursors, temporal_ops
from api.audit import record
from api.auth import State, SupplierPrincipal, supplier_principal
from api.edge import require_path_id
from api.problems import Problem, problem_responses
from api.state import AppState
from api.submission import SubmissionPending, keyed_application_id, start_fresh
from api.supplier_views import (
    Catalogue,
    active,
    asking_procurement,
    procurement,
    request_contract,
    supplier_application,
    supplier_request_view,
    today,
    what_each_bank_would_lend,
    why_not_financeable,
)
from domain.application import ApplicationRequest, ApplicationView, CollectionAccount, Preapproval
from domain.credit_profile import build_credit_profile
from domain.errors import HTTP_STATUS, ErrorCode
from domain.maturity import suggested_term_days
from domain.products import known_paid
from domain.supplier_channel import (
    AcceptBody,
    ActiveFinancing,
    FinancingRequestBody,
    OpenRequest,
    SupplierApplicationView,
    SupplierContract,
    SupplierRequestView,
    TermAdvice,
)
from domain.verification import contract_eligible_maximum, contract_problem
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
    credit_code = _credit_code(who)
    found = await asking_procurement(procurement(state).supplier_contracts(credit_code))
    catalogue = await Catalogue.read(state)
    on = today()
    items = []
    for contract in found:
        recorded = await state.repos.payments.recorded_total(contract.contract_no)
        offers = what_each_bank_would_lend(contract, credit_code, recorded, catalogue.pairs, on)
        refusal = why_not_financeable(contract, credit_code, catalogue.pairs[0][1] if catalogue.pairs else None)
        listed, _ = await state.repos.applications.list(contract_no=contract.contract_no, limit=20)
        holding = next((v for v in listed if active(v) and v.supplier_credit_code == credit_code), None)
        in_play = await state.repos.financing_requests.in_play_for(contract.contract_no)
        days_until = (contract.expected_payment_date - on).days
        items.append(
            SupplierContract(
                contract_no=contract.contract_no,
                project_name=contract.project_name,
                purchaser=contract.purchaser,
                amount=contract.amount,
                paid_amount=known_paid(contract.paid_amount, recorded),
                status=contract.status,
                financing=ActiveFinancing(
                    application_id=holding.application_id, stage=holding.stage, bank_code=holding.bank_code
                )
                if holding
                else None,
                offers=offers,
                expected_payment_date=contract.expected_payment_date,
                signed_on=contract.signed_on,
                financeable=refusal is None and holding is None and in_play is None,
                not_financeable_because=refusal
                or ("an application is active on this contract" if holding else None)
                or ("a financing request is open on this contract" if in_play else None),
                financing_request=OpenRequest(
                    request_id=in_play.request_id,
                    status=in_play.status,
                    offers=sum(1 for o in in_play.offers if o.status == "open"),
                )
                if in_play
                else None,
                term_advice=TermAdvice(
                    expected_payment_date=contract.expected_payment_date,
                    days_until_payment=days_until,
                    suggested_term_days=suggested_term_days(on, contract.expected_payment_date, catalogue.longest_term),
                ),
            ).model_dump(mode="json")
        )
    return {"items": items, "next_cursor": None}


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
        "expected payment)."
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
    best = max(
        catalogue.pairs,
        key=lambda pair: contract_eligible_maximum(pair[1], contract, recorded),
        default=None,
    )
    problem = contract_problem(
        supplier_credit_code=credit_code,
        contract_supplier=contract.supplier.credit_code,
        status=contract.status,
        bank_code="any bank",
        product_code="any product",
        product=best[1] if best else None,
        requested_amount=body.requested_amount,
        eligible_max=contract_eligible_maximum(best[1], contract, recorded) if best else None,
    )
    if problem is not None:
        raise Problem(
            ErrorCode.VALIDATION_ERROR, problem.replace("bank any bank has no product any product", "no bank")
        )
    history = await asking_procurement(procurement(state).supplier_history(credit_code))
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
    )
    view = supplier_request_view(created, catalogue, today())
    return JSONResponse(view.model_dump(mode="json"), status_code=201)


@router.get(
    "/v1/supplier/financing-requests",
    summary="The supplier's financing requests",
    description="Newest first, each with every bank's offers.",
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
        "offer that is not the supplier's; **409** `invalid_state` for a request that is not open or an "
        "offer that lapsed or was replaced; a verification refusal as a submission's (**404** "
        "`contract_not_found`, **409** `contract_already_financed`, **422** `validation_error`), after "
        "which the request is open again; **503** `upstream_unavailable` with `Retry-After` while "
        "verification takes long (retry the same acceptance for the answer)."
    ),
    responses=problem_responses(404, 409, 422),
)
async def accept(request_id: str, body: AcceptBody, who: SupplierPrincipal, state: State) -> Any:
    request = await _own_request(state, who, request_id)
    offer = request.offer(body.offer_id)
    if offer is None:
        raise Problem(ErrorCode.NOT_FOUND, f"no offer {body.offer_id} on financing request {request_id}")
    requests = state.repos.financing_requests
    try:
        acceptance = await requests.begin_accept(request_id, offer.offer_id)
    except NotOpen as error:
        raise Problem(ErrorCode.INVALID_STATE, f"the request or the offer is not open ({error.status})") from error
    if acceptance.how == "done" and acceptance.request.application_id:
        return JSONResponse(supplier_application(await _accepted(state, acceptance.request.application_id)), 201)
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
    return JSONResponse(supplier_application(view), status_code=201)


async def _accepted(state: AppState, application_id: str) -> ApplicationView:
    view = await state.repos.applications.get(application_id)
    if view is None:
        view = await temporal_ops.query_view(state.temporal, application_id)
    if view is None:
        raise Problem(ErrorCode.NOT_FOUND, f"no application {application_id}")
    return view


@router.post(
    "/v1/supplier/financing-requests/{request_id}/cancel",
    response_model=SupplierRequestView,
    summary="Withdraw an open financing request",
    description=(
        "The request is `cancelled` and its offers lapse; the contract is free for a new request or "
        "a bank's application. **409** `invalid_state` unless the request is `open`; **404** "
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
