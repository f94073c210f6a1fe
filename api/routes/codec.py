"""The Temporal UI's remote codec endpoint (`<api>/codec`), for operations staff only.

Temporal stores payloads encrypted (runtime/codec.py); the UI posts them here to show them
decrypted. Request and answer follow the UI's remote-codec format:
`{"payloads": [{"metadata": {name: base64}, "data": base64}]}`. Without configured keys
the payloads pass through unchanged."""

from __future__ import annotations

import base64
import binascii
import html
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, Field
from temporalio.api.common.v1 import Payload
from temporalio.converter import PayloadCodec

from api import codec_session
from api.audit import record
from api.auth import OPS_KEY_FORM, OpsPrincipal, State, ops_key_from_form, ops_principal
from api.problems import Problem, problem_responses
from domain.errors import ErrorCode
from runtime.temporal import payload_codec
from store.principals import Principal

# three audiences under /codec, a router each
_CODEC: dict[str, Any] = {"prefix": "/codec", "tags": ["operations"], "responses": problem_responses(401, 403, 422)}
# what the Temporal UI posts: the ops Bearer key, or a codec session cookie (api/codec_session.py)
payloads = APIRouter(**_CODEC, dependencies=[Depends(codec_session.codec_principal)])
# opening a session with the ops Bearer key
sessions = APIRouter(**_CODEC, dependencies=[Depends(ops_principal)])
# the sign-in page, its form (the ops key it posts is checked there) and signing out: anyone
public = APIRouter(**_CODEC)


class CodecPayload(BaseModel):
    metadata: dict[str, str] = Field(default_factory=dict)
    data: str = ""


class CodecPayloads(BaseModel):
    # the Temporal CLI (--codec-endpoint) posts `{}` when it has nothing to encode
    payloads: list[CodecPayload] = Field(default_factory=list)


def _to_temporal(body: CodecPayloads) -> list[Payload]:
    try:
        return [
            Payload(
                metadata={k: base64.b64decode(v, validate=True) for k, v in p.metadata.items()},
                data=base64.b64decode(p.data, validate=True),
            )
            for p in body.payloads
        ]
    except (binascii.Error, ValueError) as err:
        raise Problem(ErrorCode.VALIDATION_ERROR, "payload metadata and data must be base64") from err


def _from_temporal(payloads: list[Payload]) -> CodecPayloads:
    return CodecPayloads(
        payloads=[
            CodecPayload(
                metadata={k: base64.b64encode(v).decode() for k, v in p.metadata.items()},
                data=base64.b64encode(p.data).decode(),
            )
            for p in payloads
        ]
    )


def _codec(state: State) -> PayloadCodec | None:
    return payload_codec(state.settings)


@payloads.post("/encode")
async def encode(body: CodecPayloads, state: State) -> CodecPayloads:
    payloads = _to_temporal(body)
    codec = _codec(state)
    return _from_temporal(list(await codec.encode(payloads)) if codec else payloads)


@payloads.post("/decode")
async def decode(body: CodecPayloads, state: State) -> CodecPayloads:
    payloads = _to_temporal(body)
    codec = _codec(state)
    try:
        return _from_temporal(list(await codec.decode(payloads)) if codec else payloads)
    except Exception as err:  # unknown key id, tampered ciphertext: the caller's payload is wrong
        raise Problem(ErrorCode.VALIDATION_ERROR, f"cannot decode: {type(err).__name__}") from err


class CodecSession(BaseModel):
    """A codec session just opened: who it belongs to and when it ends."""

    principal: str
    expires_at: datetime


async def _open_session(state: State, who: Principal, via: str) -> tuple[CodecSession, str]:
    """A new session (audited) and its cookie value."""
    token, expires_at = codec_session.new_session(state.settings, who)
    session = CodecSession(principal=who.name, expires_at=datetime.fromtimestamp(expires_at, UTC))
    await record(state, who.name, "codec.session", None, via=via, expires_at=session.expires_at.isoformat())
    return session, token


@sessions.post("/session", status_code=200)
async def open_session(who: OpsPrincipal, state: State, request: Request, response: Response) -> CodecSession:
    """Open a codec session for the calling ops key: sets the HttpOnly session cookie that
    `/codec/encode` and `/codec/decode` accept from the Temporal UI (audited)."""
    session, token = await _open_session(state, who, "bearer")
    codec_session.set_cookie(response, request, token)
    return session


@public.delete("/session", status_code=204, responses={204: {"description": "signed out (the cookie is cleared)"}})
async def close_session(request: Request) -> Response:
    """Sign out: clears the codec session cookie of this browser."""
    response = Response(status_code=204)
    codec_session.clear_cookie(response, request)
    return response


_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>政采贷 — Temporal UI codec sign-in</title>
<style>body{{font-family:system-ui,sans-serif;max-width:40rem;margin:3rem auto;line-height:1.5}}
input{{width:100%;padding:.4rem;font-family:monospace}}code{{background:#eee;padding:0 .2rem}}</style></head>
<body><h1>Temporal UI: decode payloads</h1>{body}</body></html>"""


def _setup_steps(state: State, request: Request) -> str:
    endpoint = html.escape(f"{codec_session.public_base(request)}/codec")
    ui = html.escape(state.settings.codec_cors_origin)
    if request.headers.get("x-forwarded-host"):
        # reached through `zcd run`'s UI proxy (local_stack/ui_proxy.py): the cookie is on the UI's origin
        return (
            "<p>This page is on the <a href='/'>Temporal UI</a>'s own address: open the UI in this "
            "browser and it sends this session with its decode requests (nothing to set in the UI).</p>"
        )
    return (
        f"<p>Once per browser, in the <a href='{ui}'>Temporal UI</a>: open <b>Configure Codec Server</b>, "
        "choose <b>Use my browser setting and ignore Cluster-level setting</b>, enter "
        f"<code>{endpoint}</code> as the endpoint, turn on <b>Include cross-origin credentials</b> and "
        "apply. The UI then sends this session with its decode requests.</p>"
    )


@public.get("/login", response_class=HTMLResponse, responses={200: {"content": {"text/html": {}}}})
async def login_page(request: Request, state: State) -> HTMLResponse:
    """A sign-in page for operators: paste the ops key to open a codec session in this browser."""
    hours = int(codec_session.SESSION_LIFETIME.total_seconds() // 3600)
    form = (
        "<p>Payloads are stored encrypted in Temporal. Sign in with your operations key to let the "
        f"Temporal UI in this browser show them decoded (the session lasts {hours} hours).</p>"
        "<form method='post' action='login'><label>Operations key "
        "<input type='password' name='ops_key' autocomplete='off' required autofocus></label>"
        "<p><button type='submit'>Sign in</button></p></form>"
    )
    return HTMLResponse(_PAGE.format(body=form + _setup_steps(state, request)))


@public.post(
    "/login",
    response_class=HTMLResponse,
    openapi_extra=OPS_KEY_FORM,
    responses={200: {"description": "signed in; sets the codec session cookie", "content": {"text/html": {}}}},
)
async def login(request: Request, state: State) -> HTMLResponse:
    """The sign-in form's target (`ops_key`, form-encoded): opens a codec session like
    `POST /codec/session` (a bank key: 403 forbidden; an unknown key: 401 unauthenticated)."""
    who = await ops_key_from_form(request, state, "the codec endpoint is for operations staff")
    session, token = await _open_session(state, who, "login form")
    body = (
        f"<p>Signed in as <b>{html.escape(session.principal)}</b> until "
        f"{html.escape(session.expires_at.isoformat())}.</p>{_setup_steps(state, request)}"
    )
    page = HTMLResponse(_PAGE.format(body=body))
    codec_session.set_cookie(page, request, token)
    return page
