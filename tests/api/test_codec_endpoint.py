"""The UI's codec endpoint: decodes for ops, refuses everyone else, answers the UI's origin."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from typing import Any, cast

import asyncpg
import httpx
import pytest
from temporalio.api.common.v1 import Payload
from temporalio.client import Client

from api.main import create_app
from domain.settings import Settings
from runtime.codec import EncryptionCodec
from tests.api.conftest import NoTemporal

KEY = EncryptionCodec.new_key()


@pytest.fixture
async def codec_api(db_pool: asyncpg.Pool, api_settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    settings = api_settings.model_copy(update={"codec_keys": f"k1:{KEY}"})
    app = create_app(settings, pool=db_pool, temporal_client=cast(Client, NoTemporal()))
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


async def test_ops_decode_what_temporal_stores(codec_api: httpx.AsyncClient, credentials: dict[str, Any]) -> None:
    plain = Payload(metadata={"encoding": b"json/plain"}, data=b'{"account_no": "6222020000000001"}')
    [stored] = await EncryptionCodec.from_setting(f"k1:{KEY}").encode([plain])
    ops = {"Authorization": f"Bearer {credentials['ops']}"}
    answer = await codec_api.post("/codec/decode", json=_wire(stored), headers=ops)
    assert answer.status_code == 200
    decoded = answer.json()["payloads"][0]
    assert base64.b64decode(decoded["data"]) == plain.data
    encoded = await codec_api.post("/codec/encode", json=_wire(plain), headers=ops)
    assert base64.b64decode(encoded.json()["payloads"][0]["metadata"]["encoding"]) == b"binary/encrypted"


async def test_codec_refuses_without_ops_credentials(codec_api: httpx.AsyncClient, credentials: dict[str, Any]) -> None:
    body = _wire(Payload(metadata={"encoding": b"json/plain"}, data=b"{}"))
    none = await codec_api.post("/codec/decode", json=body)
    assert none.status_code == 401 and none.json()["code"] == "unauthenticated"
    bank = await codec_api.post(
        "/codec/decode", json=body, headers={"Authorization": f"Bearer {credentials['banks']['ICBC']}"}
    )
    assert bank.status_code == 403 and bank.json()["code"] == "forbidden"


async def test_cors_answers_the_ui_origin_only(codec_api: httpx.AsyncClient, api_settings: Settings) -> None:
    def preflight(origin: str) -> dict[str, str]:
        return {
            "Origin": origin,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization,content-type",
        }

    ok = await codec_api.options("/codec/decode", headers=preflight(api_settings.codec_cors_origin))
    assert ok.status_code == 200
    assert ok.headers["access-control-allow-origin"] == api_settings.codec_cors_origin
    other = await codec_api.options("/codec/decode", headers=preflight("http://evil.example"))
    assert "access-control-allow-origin" not in other.headers
