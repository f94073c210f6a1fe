"""Text holding a NUL character (which PostgreSQL text cannot store) is a malformed body:
422 `validation_error`, never a 500. Found by tests/api/test_schemathesis.py."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx

from domain.credit_code import make_credit_code
from domain.signing import SIGNATURE_HEADER, signature_header
from tests.api.test_problems import assert_problem, bearer


async def test_signed_payment_with_nul_is_malformed(api: httpx.AsyncClient, credentials: dict[str, Any]) -> None:
    body = json.dumps(
        {
            "payment_id": "T-NUL-\u0000",
            "contract_no": "WX-NUL",
            "payee_account_no": "6222020000000001",
            "amount": "1.00",
            "paid_on": "2026-11-27",
        }
    ).encode()
    headers = {SIGNATURE_HEADER: signature_header(credentials["treasury_secret"], int(time.time()), body)}
    assert_problem(await api.post("/v1/treasury/payments", content=body, headers=headers), 422, "validation_error")


async def test_application_with_nul_is_malformed(api: httpx.AsyncClient, credentials: dict[str, Any]) -> None:
    body = {
        "contract_no": "WX-\u0000",
        "supplier_credit_code": make_credit_code("91320200", "MA1MXY3K"),
        "product_code": "STD",
        "requested_amount": "1.00",
        "collection_account": {"account_no": "6222020000000001", "account_name": "名\u0000"},
    }
    response = await api.post("/v1/applications", json=body, headers=bearer(credentials["banks"]["ICBC"]))
    assert_problem(response, 422, "validation_error")
