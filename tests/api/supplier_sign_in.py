"""Signing a supplier in through the public API, as its phone would: ask for a code, read the
SMS the gateway simulator "sent", present it. Shared by the supplier-channel API tests."""

from __future__ import annotations

import httpx

from tests.fixtures.simulators import RunningSimulators


async def latest_code(sims: RunningSimulators, credit_code: str) -> str:
    answer = await sims.hook("sms", "GET", "/sim/messages", to=credit_code)
    assert answer.status_code == 200, answer.text
    items = answer.json()["items"]
    assert items, f"no SMS was sent to {credit_code}"
    code: str = items[0]["code"]
    return code


async def sign_in(http: httpx.AsyncClient, sims: RunningSimulators, credit_code: str) -> dict[str, str]:
    """The supplier's Authorization header after signing in with a fresh SMS code."""
    asked = await http.post("/v1/supplier/login-codes", json={"credit_code": credit_code})
    assert asked.status_code == 202, asked.text
    code = await latest_code(sims, credit_code)
    opened = await http.post("/v1/supplier/sessions", json={"credit_code": credit_code, "code": code})
    assert opened.status_code == 201, opened.text
    return {"Authorization": f"Bearer {opened.json()['token']}"}
