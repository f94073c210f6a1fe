"""Codec sessions: how the Temporal UI, running in an operator's browser, authenticates to `/codec`.

The UI's browser fetch to the remote codec cannot carry the ops Bearer key (it only forwards
an OIDC access token, and only to an https endpoint). It can send cookies: with the UI's
Codec Server setting "Include cross-origin credentials" its fetch uses
`credentials: "include"`. So an operator signs in once on the API (`GET /codec/login`, or
`POST /codec/session` with the ops key) and gets a cookie that `/codec/*` accepts instead of
the key:

- opaque to the browser (HttpOnly), sent only to `/codec` and only same-site
  (`SameSite=Strict`: 127.0.0.1:8233 and 127.0.0.1:8000 are the same site, ports do not
  count), `Secure` when the API is served over https;
- `<principal id>.<expires unix>.<nonce>.<HMAC-SHA256>`: signed with a key derived (HKDF)
  from the codec keys, so every API replica with the same keys accepts it and a key
  rotation ends all sessions; without codec keys a per-process random key is used;
- it expires after `SESSION_LIFETIME`, and is refused as soon as its ops key is revoked
  (the principal is looked up on every request).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from datetime import timedelta

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from fastapi import Request, Response

from api.auth import State, _bearer
from api.problems import Problem
from domain.errors import ErrorCode
from domain.settings import Settings
from store.principals import Principal, active_principal, authenticate

COOKIE = "zcd_codec_session"
COOKIE_PATH = "/codec"
SESSION_LIFETIME = timedelta(hours=8)  # one working day of an operator

_PROCESS_SECRET = secrets.token_bytes(32)  # only when no codec keys are configured


CODEC_PURPOSE = b"zcd codec session v1"


def session_secret(settings: Settings, purpose: bytes = CODEC_PURPOSE) -> bytes:
    """The HMAC key of session cookies, derived from the codec keys (never the keys themselves).
    Each kind of session (`purpose`: the codec's, the bureau's) has a key of its own, so a
    cookie of one is never a valid session of another."""
    if not settings.codec_keys:
        if purpose == CODEC_PURPOSE:
            return _PROCESS_SECRET
        return hmac.new(_PROCESS_SECRET, purpose, hashlib.sha256).digest()
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=purpose).derive(settings.codec_keys.encode())


def _sign(secret: bytes, body: str) -> str:
    digest = hmac.new(secret, body.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def issue(secret: bytes, principal_id: int, expires_at: int) -> str:
    """A session token for `principal_id`, valid until the unix time `expires_at`."""
    body = f"{principal_id}.{expires_at}.{secrets.token_urlsafe(12)}"
    return f"{body}.{_sign(secret, body)}"


def verify(secret: bytes, token: str, now: float) -> int | None:
    """The principal id a token was issued to, or None when forged, malformed or expired."""
    body, _, signature = token.rpartition(".")
    if not body or not hmac.compare_digest(signature.encode(), _sign(secret, body).encode()):
        return None
    principal_id, _, rest = body.partition(".")
    expires_at = rest.partition(".")[0]
    try:
        if int(expires_at) <= now:
            return None
        return int(principal_id)
    except ValueError:
        return None


def new_session(
    settings: Settings, who: Principal, now: float | None = None, purpose: bytes = CODEC_PURPOSE
) -> tuple[str, int]:
    """(token, expiry as unix seconds) for an ops principal who just proved their key."""
    expires_at = int((now if now is not None else time.time()) + SESSION_LIFETIME.total_seconds())
    return issue(session_secret(settings, purpose), who.principal_id, expires_at), expires_at


def public_base(request: Request) -> str:
    """This API's address as the browser sees it: behind a TLS proxy or docker-compose's port
    mapping that is not `ZCD_API_URL` (which is the address inside the deployment)."""
    scheme = request.headers.get("x-forwarded-proto", request.url.scheme).split(",")[0].strip()
    host = request.headers.get("x-forwarded-host", request.headers.get("host", request.url.netloc))
    return f"{scheme}://{host.split(',')[0].strip()}"


def set_cookie(response: Response, request: Request, token: str) -> None:
    response.set_cookie(
        COOKIE,
        token,
        max_age=int(SESSION_LIFETIME.total_seconds()),
        path=COOKIE_PATH,
        secure=public_base(request).startswith("https://"),
        httponly=True,
        samesite="strict",
    )


def clear_cookie(response: Response, request: Request) -> None:
    response.delete_cookie(
        COOKIE, path=COOKIE_PATH, secure=public_base(request).startswith("https://"), httponly=True, samesite="strict"
    )


async def codec_principal(request: Request, state: State) -> Principal:
    """The ops principal behind a `/codec` request: the ops Bearer key, or else a codec session
    cookie. A Bearer key always wins (a bank key is refused 403 even beside a valid cookie)."""
    key = _bearer(request)
    token = request.cookies.get(COOKIE)
    if key is not None or not token:
        who = await authenticate(state.repos.pool, key)
        if who is None:
            raise Problem(
                ErrorCode.UNAUTHENTICATED, "the ops key or a codec session (sign in at /codec/login) is required"
            )
        if not who.is_ops:
            raise Problem(ErrorCode.FORBIDDEN, "the codec endpoint is for operations staff")
    else:
        principal_id = verify(session_secret(state.settings), token, time.time())
        found = await active_principal(state.repos.pool, principal_id) if principal_id is not None else None
        if found is None or not found.is_ops:
            raise Problem(
                ErrorCode.UNAUTHENTICATED, "the codec session has expired or is not valid; sign in at /codec/login"
            )
        who = found
    request.state.principal = who
    return who
