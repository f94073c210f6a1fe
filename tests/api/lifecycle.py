"""The steps of a financing as the outside world takes them through the public API, shared by
the end-to-end modules that run on the `stack` of tests/api/test_end_to_end.py: the bank's
application body, submitting it, a loan taken to `repaying`, and the treasury's signed notice."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import httpx

from domain.contracts import Contract
from domain.signing import SIGNATURE_HEADER, signature_header

ACCOUNT_NAME = "无锡某某科技有限公司"


def bank_headers(stack: dict[str, Any], bank_code: str = "ICBC") -> dict[str, str]:
    return {"Authorization": f"Bearer {stack['keys']['banks'][bank_code]}"}


def ops_headers(stack: dict[str, Any]) -> dict[str, str]:
    return {"Authorization": f"Bearer {stack['keys']['ops']}"}


def application_body(contract: Contract, account_no: str, amount: str = "500000.00") -> dict[str, Any]:
    """POST /v1/applications for `contract`'s own supplier, product STD."""
    return {
        "contract_no": contract.contract_no,
        "supplier_credit_code": contract.supplier.credit_code,
        "product_code": "STD",
        "requested_amount": amount,
        "collection_account": {"account_no": account_no, "account_name": ACCOUNT_NAME},
    }


async def until(http: httpx.AsyncClient, path: str, headers: dict[str, str], stage: str) -> dict[str, Any]:
    body: dict[str, Any] = {}
    for _ in range(300):
        body = (await http.get(path, headers=headers)).json()
        if body.get("stage") == stage:
            return body
        await asyncio.sleep(0.1)
    raise AssertionError(f"never reached {stage}: {body}")


async def disbursed(
    stack: dict[str, Any], account_no: str, amount: str, *, annual_rate: str = "0.0400", term_days: int = 90
) -> tuple[str, Contract]:
    """A new contract's application submitted, approved in full, confirmed by the purchaser
    online and paid out: (application id, contract) once it is `repaying`."""
    http: httpx.AsyncClient = stack["http"]
    bank = bank_headers(stack)
    contract = await stack["sims"].new_contract()
    submitted = await http.post("/v1/applications", json=application_body(contract, account_no, amount), headers=bank)
    assert submitted.status_code == 201, submitted.text
    app_id = str(submitted.json()["application_id"])
    decision = {"decision": "approve", "approved_amount": amount, "annual_rate": annual_rate, "term_days": term_days}
    assert (await http.post(f"/v1/applications/{app_id}/decision", json=decision, headers=bank)).status_code == 200
    path = f"/sim/contracts/{contract.contract_no}/account-change"
    assert (await stack["sims"].hook("procurement", "POST", path, {"decision": "confirmed"})).status_code < 300
    await until(http, f"/v1/applications/{app_id}", bank, "repaying")
    return app_id, contract


async def treasury_notice(stack: dict[str, Any], notice: dict[str, Any]) -> httpx.Response:
    """POST /v1/treasury/payments signed with the treasury's secret, as the treasury sends it."""
    body = json.dumps(notice).encode()
    headers = {SIGNATURE_HEADER: signature_header(stack["keys"]["treasury_secret"], int(time.time()), body)}
    response: httpx.Response = await stack["http"].post("/v1/treasury/payments", content=body, headers=headers)
    return response
