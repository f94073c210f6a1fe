"""Codec sessions: the Temporal UI's browser authenticates to /codec with a cookie an operator
opens with the ops key; banks, forged, expired or revoked sessions are refused."""

from __future__ import annotations

import base64
import time
from collections.abc import AsyncIterator
from typing import Any, cast

import asyncpg
import httpx
import pytest
from temporalio.api.common.v1 import Payload
from temporalio.client import Client

from api import codec_session
from api.main import create_app
from domain.settings import Settings
from runtime.codec import EncryptionCodec
from store.principals import authenticate, ensure_credentials, new_key, revoke_key
from tests.api.conftest import NoTemporal

KEY = EncryptionCodec.new_key()
PLAIN = Payload(metadata={"encoding": b"json/plain"}, data=b'{"account_no": "6222020000000001"}')


@pytest.fixture
def codec_settings(api_settings: Settings) -> Settings:
    return api_settings.model_copy(update={"codec_keys": f"k1:{KEY}"})


@pytest.fixture
async def codec_api(db_pool: asyncpg.Pool, codec_settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(codec_settings, pool=db_pool, temporal_client=cast(Client, NoTemporal()))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://api") as client:
            yield client


def _wire(payload: Payload) -> dict[str, Any]:
    return {
        "payloads": [
            {
                "metadata": {k: base64.b64encode(v).decode() for k, v in payload.metadata.items()},
                "data": base64.b64encode(payload.data).decode(),
            }
        ]
    }


async def _stored() -> dict[str, Any]:
    [encrypted] = await EncryptionCodec.from_setting(f"k1:{KEY}").encode([PLAIN])
    return _wire(encrypted)


def _ops(credentials: dict[str, Any]) -> dict[str, str]:
    return {"Authorization": f"Bearer {credentials['ops']}"}


def _bank(credentials: dict[str, Any]) -> dict[str, str]:
    return {"Authorization": f"Bearer {credentials['banks']['ICBC']}"}


async def test_ops_open_a_session_and_the_cookie_decodes(
    codec_api: httpx.AsyncClient, credentials: dict[str, Any], db_pool: asyncpg.Pool
) -> None:
    body = await _stored()
    refused = await codec_api.post("/codec/decode", json=body)
    assert refused.status_code == 401 and refused.json()["code"] == "unauthenticated"

    opened = await codec_api.post("/codec/session", headers=_ops(credentials))
    assert opened.status_code == 200
    assert opened.json()["principal"] == "ops:ops"
    cookie = opened.headers["set-cookie"]
    assert cookie.startswith(f"{codec_session.COOKIE}=")
    for attribute in ("HttpOnly", "Path=/codec", "SameSite=strict", "Max-Age=28800"):
        assert attribute.lower() in cookie.lower()
    assert "secure" not in cookie.lower()  # plain http locally; Secure when the API is https

    decoded = await codec_api.post("/codec/decode", json=body)  # the client's jar sends the cookie
    assert decoded.status_code == 200
    assert base64.b64decode(decoded.json()["payloads"][0]["data"]) == PLAIN.data

    row = await db_pool.fetchrow(
        "SELECT actor, action, details_json FROM audit_log WHERE action = 'codec.session' ORDER BY seq DESC LIMIT 1"
    )
    assert row is not None and row["actor"] == "ops:ops" and '"via":"bearer"' in row["details_json"]

    closed = await codec_api.delete("/codec/session")
    assert closed.status_code == 204
    assert (await codec_api.post("/codec/decode", json=body)).status_code == 401


async def test_banks_and_strangers_get_no_session(codec_api: httpx.AsyncClient, credentials: dict[str, Any]) -> None:
    bank = await codec_api.post("/codec/session", headers=_bank(credentials))
    assert bank.status_code == 403 and bank.json()["code"] == "forbidden"
    assert "set-cookie" not in bank.headers
    none = await codec_api.post("/codec/session")
    assert none.status_code == 401 and none.json()["code"] == "unauthenticated"
    unknown = await codec_api.post("/codec/session", headers={"Authorization": "Bearer zcd_nobody"})
    assert unknown.status_code == 401
    assert not codec_api.cookies


async def test_a_bank_key_is_refused_even_beside_a_valid_session(
    codec_api: httpx.AsyncClient, credentials: dict[str, Any]
) -> None:
    assert (await codec_api.post("/codec/session", headers=_ops(credentials))).status_code == 200
    bank = await codec_api.post("/codec/decode", json=await _stored(), headers=_bank(credentials))
    assert bank.status_code == 403 and bank.json()["code"] == "forbidden"


async def test_forged_and_expired_sessions_are_refused(
    codec_api: httpx.AsyncClient, credentials: dict[str, Any], codec_settings: Settings, db_pool: asyncpg.Pool
) -> None:
    ops = await authenticate(db_pool, credentials["ops"])
    assert ops is not None
    body = await _stored()
    secret = codec_session.session_secret(codec_settings)

    def attempt(token: str) -> Any:
        return codec_api.post("/codec/decode", json=body, headers={"Cookie": f"{codec_session.COOKIE}={token}"})

    good = codec_session.issue(secret, ops.principal_id, int(time.time()) + 60)
    assert (await attempt(good)).status_code == 200
    expired = codec_session.issue(secret, ops.principal_id, int(time.time()) - 1)
    forged_signature = good[:-4] + ("AAAA" if not good.endswith("AAAA") else "BBBB")
    other_key = codec_session.issue(b"not the api's secret" * 2, ops.principal_id, int(time.time()) + 60)
    body_part, _, signature = good.rpartition(".")
    longer = body_part.replace(body_part.split(".")[1], str(int(time.time()) + 10**6), 1) + "." + signature
    for token in (expired, forged_signature, other_key, longer, "garbage", "1.2.3"):
        answer = await attempt(token)
        assert answer.status_code == 401, token
        assert answer.json()["code"] == "unauthenticated"


async def test_a_session_ends_with_its_revoked_key(
    codec_api: httpx.AsyncClient, db_pool: asyncpg.Pool, codec_settings: Settings
) -> None:
    key = new_key()
    await ensure_credentials(db_pool, {"ops": [new_key(), key]})
    opened = await codec_api.post("/codec/session", headers={"Authorization": f"Bearer {key}"})
    assert opened.status_code == 200
    body = await _stored()
    assert (await codec_api.post("/codec/decode", json=body)).status_code == 200
    assert await revoke_key(db_pool, key)
    assert (await codec_api.post("/codec/decode", json=body)).status_code == 401


async def test_the_login_page_opens_a_session(
    codec_api: httpx.AsyncClient, credentials: dict[str, Any], db_pool: asyncpg.Pool
) -> None:
    page = await codec_api.get("/codec/login")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "name='ops_key'" in page.text and "Include cross-origin credentials" in page.text

    form = {"Content-Type": "application/x-www-form-urlencoded"}
    bank = await codec_api.post("/codec/login", content=f"ops_key={credentials['banks']['ICBC']}", headers=form)
    assert bank.status_code == 403 and bank.json()["code"] == "forbidden"
    wrong = await codec_api.post("/codec/login", content="ops_key=zcd_wrong", headers=form)
    assert wrong.status_code == 401 and wrong.json()["code"] == "unauthenticated"
    empty = await codec_api.post("/codec/login", content="", headers=form)
    assert empty.status_code == 422 and empty.json()["code"] == "validation_error"
    assert not codec_api.cookies

    signed_in = await codec_api.post("/codec/login", content=f"ops_key={credentials['ops']}", headers=form)
    assert signed_in.status_code == 200 and "Signed in as <b>ops:ops</b>" in signed_in.text
    assert "httponly" in signed_in.headers["set-cookie"].lower()
    assert (await codec_api.post("/codec/decode", json=await _stored())).status_code == 200
    row = await db_pool.fetchrow("SELECT actor, details_json FROM audit_log ORDER BY seq DESC LIMIT 1")
    assert row is not None and row["actor"] == "ops:ops" and '"via":"login form"' in row["details_json"]


async def test_cors_lets_the_ui_send_its_cookie_and_no_one_else(
    codec_api: httpx.AsyncClient, codec_settings: Settings
) -> None:
    def preflight(origin: str) -> dict[str, str]:
        # what the UI's fetch(…, {credentials: "include"}) sends first
        return {
            "Origin": origin,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type,x-namespace",
        }

    ui = codec_settings.codec_cors_origin
    ok = await codec_api.options("/codec/decode", headers=preflight(ui))
    assert ok.status_code == 200
    assert ok.headers["access-control-allow-origin"] == ui
    assert ok.headers["access-control-allow-credentials"] == "true"
    assert "x-namespace" in ok.headers["access-control-allow-headers"].lower()

    other = await codec_api.options("/codec/decode", headers=preflight("http://127.0.0.1:9999"))
    assert other.status_code == 400
    assert "access-control-allow-origin" not in other.headers

    # the actual (credentialed) answer names the UI's origin too, never a wildcard
    answer = await codec_api.post("/codec/decode", json=await _stored(), headers={"Origin": ui})
    assert answer.headers["access-control-allow-origin"] == ui
    assert answer.headers["access-control-allow-credentials"] == "true"


async def test_the_temporal_cli_empty_request_is_answered(
    codec_api: httpx.AsyncClient, credentials: dict[str, Any]
) -> None:
    # `temporal ... --codec-endpoint` posts `{}` when a call has no payloads to encode
    for path in ("/codec/encode", "/codec/decode"):
        answer = await codec_api.post(path, json={}, headers={**_ops(credentials), "X-Namespace": "default"})
        assert answer.status_code == 200, answer.text
        assert answer.json() == {"payloads": []}


async def test_the_sign_in_page_speaks_of_the_address_the_browser_used(
    codec_api: httpx.AsyncClient, credentials: dict[str, Any]
) -> None:
    # behind docker-compose's port mapping and a TLS proxy: not ZCD_API_URL (http://api:8000 inside)
    outside = {"Host": "zcd.finance.example", "X-Forwarded-Proto": "https"}
    page = await codec_api.get("/codec/login", headers=outside)
    assert "https://zcd.finance.example/codec" in page.text
    signed_in = await codec_api.post(
        "/codec/login",
        content=f"ops_key={credentials['ops']}".encode(),
        headers={**outside, "Content-Type": "application/x-www-form-urlencoded"},
    )
    assert signed_in.status_code == 200, signed_in.text
    cookie = signed_in.headers["set-cookie"].lower()
    assert "secure" in cookie and "httponly" in cookie and "samesite=strict" in cookie
    plain = await codec_api.post("/codec/session", headers=_ops(credentials))
    assert "secure" not in plain.headers["set-cookie"].lower()  # plain http: a Secure cookie would never be sent
