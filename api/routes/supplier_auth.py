"""Suppliers sign in with their credit code and a one-time SMS code (API.md v1.1 "Suppliers").

`POST /v1/supplier/login-codes` answers 202 the same way whether or not anyone holds the credit
code: every well-formed code gets an SMS through the gateway, which knows the phone registered
for it (and has none for a credit code nobody registered). `POST /v1/supplier/sessions` opens a
session whose token is a Bearer credential of principal kind *supplier*.

Neither the code nor the token is ever logged or stored as such: the code as an HMAC under a key
derived from the payload keys (every API replica derives the same one), the token as its SHA-256.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse

from api.audit import record
from api.auth import State, SupplierPrincipal, supplier_principal
from api.problems import Problem, problem_responses, upstream_unavailable
from domain.errors import ErrorCode
from domain.settings import Settings
from domain.supplier_channel import LoginCodeAnswer, LoginCodeRequest, SessionAnswer, SessionRequest
from domain.supplier_login import CODE_LIFETIME, RESEND_AFTER, Verdict, code_digest
from integrations.errors import ExternalError
from integrations.sms import SmsClient
from store.supplier_logins import SupplierLogins, new_code, new_token

# signing in is open to anyone: the SMS code is the credential
public = APIRouter(tags=["suppliers"])
# signing out: the signed-in supplier
signed_in = APIRouter(tags=["suppliers"], dependencies=[Depends(supplier_principal)])

_PROCESS_SECRET = secrets.token_bytes(32)  # only when no payload keys are configured (tests)


def login_code_secret(settings: Settings) -> bytes:
    """The HMAC key of stored codes, derived from the payload keys (never the keys themselves)."""
    if not settings.codec_keys:
        return _PROCESS_SECRET
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"zcd supplier login code v1").derive(
        settings.codec_keys.encode()
    )


_ANSWER = LoginCodeAnswer(
    code_lifetime_seconds=int(CODE_LIFETIME.total_seconds()),
    resend_after_seconds=int(RESEND_AFTER.total_seconds()),
)


@public.post(
    "/v1/supplier/login-codes",
    status_code=202,
    response_model=LoginCodeAnswer,
    summary="Send a supplier a one-time sign-in code by SMS",
    description=(
        "The platform sends a six-digit code, valid 5 minutes and once, through the SMS gateway to "
        "the phone registered for the credit code. **202** always — also for a credit code no "
        "supplier holds: nothing tells whether a supplier exists. A code is sent at most once a "
        "minute per credit code (asking again sooner sends nothing; the last code stays valid), and "
        "none while the credit code is locked after wrong codes. **422** `validation_error` for a "
        "malformed credit code (GB 32100-2015 check characters); **503** `upstream_unavailable` "
        "with `Retry-After` when the SMS gateway cannot be reached (no code is then kept)."
    ),
    responses=problem_responses(422, 503),
)
async def request_login_code(body: LoginCodeRequest, state: State) -> Any:
    code = new_code()
    now = datetime.now(UTC)
    logins = SupplierLogins(state.repos.pool)
    digest = code_digest(login_code_secret(state.settings), body.credit_code, code)
    code_id = await logins.issue_code(body.credit_code, digest, now)
    if code_id is not None:
        minutes = int(CODE_LIFETIME.total_seconds() // 60)
        sms = SmsClient.from_settings(state.settings, state.http)
        try:
            # the gateway's idempotency key: the same for this code's retries, never another code's
            # — a row id alone repeats across databases that share one gateway (a restored copy)
            key = f"zcd:login-code:{code_id}:{digest.hex()[:16]}"
            await sms.send_login_code(body.credit_code, code, minutes, key=key)
        except ExternalError as error:
            await logins.forget_code(code_id)  # not sent: the next request may send another at once
            raise upstream_unavailable("the SMS gateway could not be reached; retry shortly") from error
    return JSONResponse(_ANSWER.model_dump(mode="json"), status_code=202)


@public.post(
    "/v1/supplier/sessions",
    status_code=201,
    response_model=SessionAnswer,
    summary="Sign in as a supplier with the SMS code",
    description=(
        "**201** with a token (a Bearer credential of principal kind *supplier*, valid 8 hours) and "
        "its `expires_at`. A wrong, expired or already used code — or one never sent — is **401** "
        "`unauthenticated`. Five wrong codes in a row lock the credit code for 15 minutes: every "
        "attempt meanwhile, the right code too, is **429** `too_many_attempts` with `Retry-After` "
        "(seconds until the lock ends). A right code resets the count. **422** `validation_error` "
        "for a malformed body (the code is six digits)."
    ),
    responses=problem_responses(401, 422, 429, 503),
)
async def open_session(body: SessionRequest, state: State) -> Any:
    now = datetime.now(UTC)
    presented = code_digest(login_code_secret(state.settings), body.credit_code, body.code)
    token = new_token()
    signed = await SupplierLogins(state.repos.pool).sign_in(body.credit_code, presented, token, now)
    attempt = signed.attempt
    if attempt.verdict is Verdict.LOCKED:
        assert attempt.retry_after is not None
        seconds = max(1, int(attempt.retry_after.total_seconds() + 0.999))
        raise Problem(
            ErrorCode.TOO_MANY_ATTEMPTS,
            f"too many wrong codes for this credit code: try again in {seconds} seconds",
            headers={"Retry-After": str(seconds)},
        )
    if signed.session is None:
        raise Problem(ErrorCode.UNAUTHENTICATED, "the code is wrong, expired or already used; ask for a new one")
    who = f"supplier:{body.credit_code}"
    await record(state, who, "supplier.signed_in", None, session_id=signed.session.session_id)
    answer = SessionAnswer(token=token, expires_at=signed.session.expires_at, credit_code=body.credit_code)
    return JSONResponse(answer.model_dump(mode="json"), status_code=201)


@signed_in.post(
    "/v1/supplier/sign-out",
    summary="End the supplier's session",
    description='The token stops working at once. **200** `{"status": "signed_out"}`; **403** for a bank or ops key.',
    responses=problem_responses(401, 403, 503),
)
async def sign_out(who: SupplierPrincipal, state: State) -> dict[str, str]:
    await SupplierLogins(state.repos.pool).sign_out(who.principal_id, datetime.now(UTC))
    await record(state, who.name, "supplier.signed_out", None, session_id=who.principal_id)
    return {"status": "signed_out"}
