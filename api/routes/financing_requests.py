"""The banks' side of suppliers' financing requests (API.md v1.1 "Suppliers"): every bank lists
the open requests (without the supplier's collection account) and answers with an offer,
validated exactly like a decision (`domain.verification.decision_problems`) against what its
product would lend on the contract now (`contract_eligible_maximum`, verification's function;
api/supplier_views.offered_product)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query

from api import cursors, edge, idempotency
from api.audit import record
from api.auth import BankPrincipal, State, bank_principal
from api.edge import require_path_id
from api.problems import Problem, problem_responses
from api.state import AppState
from api.supplier_views import Catalogue, bank_request_view, offer_view, offered_product, today
from domain.errors import ErrorCode
from domain.supplier_channel import BankRequestView, OfferBody, OfferView, RequestStatus
from store.cursors import InvalidCursor
from store.financing_requests import NotOpen, RequestRecord
from store.principals import Principal

router = APIRouter(
    tags=["financing requests"], responses=problem_responses(401, 403, 503), dependencies=[Depends(bank_principal)]
)

IdempotencyKey = Annotated[str | None, Depends(edge.idempotency_key)]
DEFAULT_PRODUCT = "STD"


def _bank_code(who: Principal) -> str:
    assert who.bank_code is not None  # BankPrincipal guarantees it
    return who.bank_code


async def _visible(state: AppState, who: Principal, request_id: str) -> RequestRecord:
    """A request the bank may see: an open one, or one it offered on; else 404, as unknown."""
    require_path_id(request_id, "financing request")
    request = await state.repos.financing_requests.get(request_id)
    if request is None or (request.status != "open" and all(o.bank_code != who.bank_code for o in request.offers)):
        raise Problem(ErrorCode.NOT_FOUND, f"no financing request {request_id}")
    return request


@router.get(
    "/v1/financing-requests",
    summary="Suppliers' financing requests, for a bank to offer on",
    description=(
        "Newest first: every open request (`status=open`, the default) — and, with another `status`, "
        "those the calling bank offered on. Each shows the contract as the request read it, the "
        "supplier's credit profile with its reasons in plain Chinese, what the bank's product would "
        "lend (`eligible_maximum`, `product`), the term that ends after the contract's expected "
        "payment (`suggested_term_days`) and the bank's own offers — never another bank's, never the "
        "supplier's collection account. An addition: each shows `expires_at`; a request still open "
        "then is `expired` (its offers lapsed) and leaves the open list. `?limit=&cursor=`; a cursor "
        "this API did not issue: **422**."
    ),
    responses=problem_responses(422),
)
async def list_requests(
    who: BankPrincipal,
    state: State,
    status: RequestStatus = "open",
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: str | None = None,
) -> Any:
    bank_code = _bank_code(who)
    try:
        items, next_cursor = await state.repos.financing_requests.for_bank(
            bank_code, status, limit, cursors.opened(state.settings, cursor)
        )
    except InvalidCursor as error:
        raise Problem(ErrorCode.VALIDATION_ERROR, str(error)) from error
    catalogue, on = await Catalogue.read(state), today()
    return {
        "items": [
            bank_request_view(r, bank_code, DEFAULT_PRODUCT, catalogue, on).model_dump(mode="json") for r in items
        ],
        "next_cursor": cursors.sign(state.settings, next_cursor),
    }


@router.get(
    "/v1/financing-requests/{request_id}",
    response_model=BankRequestView,
    summary="One financing request, as the bank sees it",
    description="As in the list. **404** `not_found` for a request that is not open and the bank never offered on.",
    responses=problem_responses(404),
)
async def get_request(request_id: str, who: BankPrincipal, state: State) -> Any:
    request = await _visible(state, who, request_id)
    view = bank_request_view(request, _bank_code(who), DEFAULT_PRODUCT, await Catalogue.read(state), today())
    return view.model_dump(mode="json")


@router.post(
    "/v1/financing-requests/{request_id}/offers",
    status_code=201,
    response_model=OfferView,
    summary="Offer financing on a supplier's request",
    description=(
        '`{"approved_amount", "annual_rate", "term_days"}` (and `product_code`, default `STD`), '
        "validated like a decision: **422** `validation_error` when the amount is ≤ 0, above the "
        "requested amount or above what the product lends on the contract now (its eligible maximum, "
        "as verification computes it), the rate outside the product's range (inclusive) or the term "
        "outside 1..`max_term_days`, or for a product the bank does not have. **409** `invalid_state` "
        "unless the request is `open` (e.g. `expired`: past its `expires_at`); **404** `not_found` for an "
        "unknown request, or one no longer open that the bank never offered on. An offer replaces "
        "the bank's earlier open one on the request. **201** with the offer, its estimated maturity and "
        "a `maturity_warning` (with a suggested term) when the loan would fall due before the "
        "contract's expected payment. Accepts `Idempotency-Key` like every change a bank makes."
    ),
    responses=problem_responses(404, 409, 422),
)
async def make_offer(
    request_id: str, body: OfferBody, who: BankPrincipal, state: State, key: IdempotencyKey = None
) -> Any:
    bank_code = _bank_code(who)

    async def act(_resumed: bool) -> tuple[int, Any]:
        request = await _visible(state, who, request_id)
        product = await offered_product(state, bank_code, request, body)
        try:
            made = await state.repos.financing_requests.offer(
                request_id, bank_code, product.product_code, body.approved_amount, body.annual_rate, body.term_days
            )
        except NotOpen as error:
            raise Problem(ErrorCode.INVALID_STATE, f"the financing request is {error.status}, not open") from error
        await record(
            state,
            who.name,
            "bank.offer_made",
            None,
            request_id=request_id,
            offer_id=made.offer_id,
            approved_amount=str(made.approved_amount),
            annual_rate=str(made.annual_rate),
            term_days=made.term_days,
        )
        view = offer_view(made, request, await Catalogue.read(state), today())
        return 201, view.model_dump(mode="json")

    require_path_id(request_id, "financing request")
    parsed = body.model_dump(mode="json")
    scope = idempotency.scoped_key("offers", request_id, key) if key is not None else None
    return await idempotency.once(state, bank_code, scope, "offers", parsed, act)
