"""Who is calling (API.md "Principals and authentication").

- banks and operations: `Authorization: Bearer <key>` (store.principals); no or an unknown
  key → 401 unauthenticated; a valid key of the wrong kind → 403 forbidden;
- suppliers: `Authorization: Bearer <token>` of a session opened with an SMS code
  (api/routes/supplier_auth.py); on bank and ops endpoints 403, as a bank key on a supplier's;
- the treasury and procurement systems: `Zcd-Signature` HMAC over the raw body; a missing,
  stale or wrong signature → 401 bad_signature, checked before the body is even parsed.

Each router declares its audience once, `APIRouter(dependencies=[Depends(bank_principal)])`,
so no route relies on its handler to refuse a caller. A handler that needs the principal (its
bank code, the actor of the audit trail) takes the same dependency as a parameter
(`who: BankPrincipal`): FastAPI evaluates it once per request. The bureau's pages and the codec
have their own (api/bureau/session.py, api/codec_session.py): an ops key or a session cookie.
"""

from __future__ import annotations

import time
from typing import Annotated, Any, Literal
from urllib.parse import parse_qs

from fastapi import Depends, Request
from pydantic import ValidationError

from api.problems import Problem
from api.state import AppState, app_state
from domain.errors import ErrorCode
from domain.signing import SIGNATURE_HEADER, verify_signature
from store.principals import Principal, authenticate


def _bearer(request: Request) -> str | None:
    header = request.headers.get("authorization")
    if not header:
        return None
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


async def principal(request: Request, state: Annotated[AppState, Depends(app_state)]) -> Principal:
    found = await authenticate(state.repos.pool, _bearer(request))
    if found is None:
        raise Problem(ErrorCode.UNAUTHENTICATED, "a valid bearer key is required")
    request.state.principal = found
    return found


async def bank_principal(who: Annotated[Principal, Depends(principal)]) -> Principal:
    if who.kind != "bank" or who.bank_code is None:
        raise Problem(ErrorCode.FORBIDDEN, "this endpoint is for banks")
    return who


async def ops_principal(who: Annotated[Principal, Depends(principal)]) -> Principal:
    if not who.is_ops:
        raise Problem(ErrorCode.FORBIDDEN, "this endpoint is for operations staff")
    return who


async def bank_or_ops(who: Annotated[Principal, Depends(principal)]) -> Principal:
    if who.is_supplier:
        raise Problem(ErrorCode.FORBIDDEN, "this endpoint is for banks and operations staff")
    return who


async def supplier_principal(who: Annotated[Principal, Depends(principal)]) -> Principal:
    if not who.is_supplier or who.credit_code is None:
        raise Problem(ErrorCode.FORBIDDEN, "this endpoint is for suppliers signed in with an SMS code")
    return who


# the OpenAPI request body of an operator's sign-in form (the codec's and the bureau's)
OPS_KEY_FORM: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "application/x-www-form-urlencoded": {
                "schema": {"type": "object", "required": ["ops_key"], "properties": {"ops_key": {"type": "string"}}}
            }
        },
    }
}


async def ops_key_from_form(request: Request, state: AppState, forbidden: str) -> Principal:
    """The operator whose key a sign-in form posted (`ops_key`, form-encoded, at most 4 KiB):
    422 without one, 401 for a key that is not valid, 403 (`forbidden`) for another kind's."""
    raw = await request.body()
    if len(raw) > 4096:
        raise Problem(ErrorCode.VALIDATION_ERROR, "the form is too large")
    keys = parse_qs(raw.decode(errors="replace")).get("ops_key") or [""]
    key = keys[0].strip()
    if not key:
        raise Problem(ErrorCode.VALIDATION_ERROR, "ops_key is required")
    who = await authenticate(state.repos.pool, key)
    if who is None:
        raise Problem(ErrorCode.UNAUTHENTICATED, "this key is not valid")
    if not who.is_ops:
        raise Problem(ErrorCode.FORBIDDEN, forbidden)
    return who


SignedBy = Literal["treasury", "procurement"]


async def _signed_body(request: Request, state: AppState, system: SignedBy) -> bytes:
    body = await request.body()
    secret = state.settings.treasury_secret if system == "treasury" else state.settings.procurement_secret
    secrets = [s for s in secret.split(",") if s]
    ok = verify_signature(
        request.headers.get(SIGNATURE_HEADER),
        body,
        secrets,
        time.time(),
        state.settings.signature_tolerance_seconds,
    )
    if not ok:
        raise Problem(ErrorCode.BAD_SIGNATURE, f"the request is not signed by the {system} system")
    return body


async def treasury_body(request: Request, state: Annotated[AppState, Depends(app_state)]) -> bytes:
    return await _signed_body(request, state, "treasury")


async def procurement_body(request: Request, state: Annotated[AppState, Depends(app_state)]) -> bytes:
    return await _signed_body(request, state, "procurement")


BankPrincipal = Annotated[Principal, Depends(bank_principal)]
OpsPrincipal = Annotated[Principal, Depends(ops_principal)]
AnyPrincipal = Annotated[Principal, Depends(bank_or_ops)]
SupplierPrincipal = Annotated[Principal, Depends(supplier_principal)]
TreasuryBody = Annotated[bytes, Depends(treasury_body)]
ProcurementBody = Annotated[bytes, Depends(procurement_body)]
State = Annotated[AppState, Depends(app_state)]


def parse_signed(model: type[Any], raw: bytes) -> Any:
    """A signed notification's body (its signature already verified) as `model`, else 422."""
    try:
        return model.model_validate_json(raw)
    except ValidationError as error:
        errors = [
            {"loc": [str(p) for p in e.get("loc", ())], "msg": str(e.get("msg", "")), "type": str(e.get("type", ""))}
            for e in error.errors()
        ]
        raise Problem(ErrorCode.VALIDATION_ERROR, "the notification is malformed", errors=errors) from error
