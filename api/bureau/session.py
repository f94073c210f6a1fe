"""Bureau sessions: the same kind of session as the codec's (api/codec_session.py) — an operator
signs in once with the ops key and the browser keeps an HttpOnly, SameSite=Strict cookie signed
with a key derived from the codec keys — but a cookie of its own, sent only to `/bureau`, and
signed with a key of its own (a codec session is not a bureau session, nor the other way).

A Bearer ops key is accepted too (a script may fetch the page or the export); it always wins
over a cookie, so a bank key is refused 403 even beside a valid session."""

from __future__ import annotations

import time
from typing import Annotated

from fastapi import Depends, Request, Response
from fastapi.responses import RedirectResponse

from api import codec_session
from api.auth import State, _bearer
from api.problems import Problem
from domain.errors import ErrorCode
from domain.settings import Settings
from store.principals import Principal, active_principal, authenticate

COOKIE = "zcd_bureau_session"
COOKIE_PATH = "/bureau"
PURPOSE = b"zcd bureau session v1"
SESSION_LIFETIME = codec_session.SESSION_LIFETIME
SIGN_IN_PAGE = "/bureau/login"


def new_session(settings: Settings, who: Principal) -> tuple[str, int]:
    return codec_session.new_session(settings, who, purpose=PURPOSE)


def set_cookie(response: Response, request: Request, token: str) -> None:
    response.set_cookie(
        COOKIE,
        token,
        max_age=int(SESSION_LIFETIME.total_seconds()),
        path=COOKIE_PATH,
        secure=codec_session.public_base(request).startswith("https://"),
        httponly=True,
        samesite="strict",
    )


def clear_cookie(response: Response, request: Request) -> None:
    secure = codec_session.public_base(request).startswith("https://")
    response.delete_cookie(COOKIE, path=COOKIE_PATH, secure=secure, httponly=True, samesite="strict")


async def signed_in(request: Request, state: State) -> Principal | None:
    """The ops principal of a bureau request: its Bearer ops key, else its session cookie; None
    when it has neither (the page then sends the browser to sign in). A key that is unknown or
    not an operator's is refused (401, 403); a cookie that is forged, expired or whose key was
    revoked counts as none."""
    key = _bearer(request)
    if key is not None:
        who = await authenticate(state.repos.pool, key)
        if who is None:
            raise Problem(ErrorCode.UNAUTHENTICATED, "this key is not valid")
        if not who.is_ops:
            raise Problem(ErrorCode.FORBIDDEN, "the bureau's dashboard is for operations staff")
    else:
        token = request.cookies.get(COOKIE)
        if not token:
            return None
        principal_id = codec_session.verify(codec_session.session_secret(state.settings, PURPOSE), token, time.time())
        found = await active_principal(state.repos.pool, principal_id) if principal_id is not None else None
        if found is None or not found.is_ops:
            return None
        who = found
    request.state.principal = who  # reads are audited like every authenticated GET
    return who


class SignInFirst(Exception):
    """A bureau page asked for by a browser that is not signed in (`operator`)."""


async def operator(request: Request, state: State) -> Principal:
    """The bureau pages' access (their router's dependency): the signed-in operator, else
    `SignInFirst`, which `to_sign_in` answers with 303 to the sign-in page."""
    who = await signed_in(request, state)
    if who is None:
        raise SignInFirst
    return who


Operator = Annotated[Principal, Depends(operator)]


async def to_sign_in(request: Request, error: Exception) -> RedirectResponse:
    """The answer to `SignInFirst` (an exception handler the app installs)."""
    return RedirectResponse(SIGN_IN_PAGE, status_code=303)
