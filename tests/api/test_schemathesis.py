"""Schemathesis over the live stack's own `/openapi.json`: with a bank key and with the ops
key, every operation answers without a 5xx and within its documented schema. The signed
treasury and procurement callbacks are signed per request (API.md's HMAC header).

Bounded (a few examples per operation, derandomized) so it stays about a minute. The stack
is the end-to-end module's fixture: one per module, over its own database."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.core.result import Err
from schemathesis.specs.openapi.checks import response_schema_conformance

from domain.signing import SIGNATURE_HEADER, signature_header
from tests.api.test_end_to_end import stack

__all__ = ["stack"]  # the fixture, shared with the end-to-end module

pytestmark = pytest.mark.e2e

MAX_EXAMPLES = 15
CHECKS = [not_a_server_error, response_schema_conformance]
SIGNED = {"/v1/treasury/payments": "treasury_secret", "/v1/procurement/account-changes": "procurement_secret"}


class Call:
    """Sends one generated case as a principal (Bearer) or as a signing system (HMAC)."""

    def __init__(self, api_url: str, session: requests.Session, headers: dict[str, str], secret: str | None) -> None:
        self.api_url, self.session, self.headers, self.secret = api_url, session, headers, secret

    def __call__(self, case: schemathesis.Case) -> None:
        if self.secret is None:
            case.call_and_validate(base_url=self.api_url, session=self.session, headers=self.headers, checks=CHECKS)
            return
        body = json.dumps(case.body).encode()
        signed = {
            "Content-Type": "application/json",
            SIGNATURE_HEADER: signature_header(self.secret, int(time.time()), body),
        }
        response = self.session.post(f"{self.api_url}{case.formatted_path}", data=body, headers=signed, timeout=30)
        case.validate_response(response, checks=CHECKS)


def examples(
    operation: schemathesis.APIOperation, call: Call, path_parameters: dict[str, Any] | None = None
) -> Callable[[], None]:
    @settings(
        max_examples=MAX_EXAMPLES,
        derandomize=True,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(path_parameters=path_parameters))
    def run(case: schemathesis.Case) -> None:
        call(case)

    return run


def exercise(raw: dict[str, Any], api_url: str, keys: dict[str, Any], application_id: str) -> list[str]:
    """Run every operation under each principal, and those about one application on a real
    one too (else every id is unknown); return the failures, one line each."""
    schema = schemathesis.openapi.from_dict(raw)
    principals = {"bank": {"Authorization": f"Bearer {keys['banks']['ICBC']}"}}
    principals["ops"] = {"Authorization": f"Bearer {keys['ops']}"}
    failures: list[str] = []
    session = requests.Session()
    for result in schema.get_all_operations():
        if isinstance(result, Err):
            failures.append(f"invalid operation in /openapi.json: {result.err()}")
            continue
        operation = result.ok()
        secret_name = SIGNED.get(operation.path)
        runs = {"signed": {}} if secret_name else principals
        ids: list[dict[str, Any] | None] = [None]
        if "{application_id}" in operation.path:
            ids.append({"application_id": application_id})
        for who, headers in runs.items():
            for path_parameters in ids:
                call = Call(api_url, session, headers, keys[secret_name] if secret_name else None)
                try:
                    examples(operation, call, path_parameters)()
                except Exception as error:  # every operation's failure is reported together
                    label = f"{operation.label} as {who}" + (" on a real application" if path_parameters else "")
                    failures.append(f"{label}: {type(error).__name__}: {error}"[:3000])
    return failures


async def test_every_operation_keeps_to_its_schema(stack: dict[str, Any]) -> None:
    http = stack["http"]
    contract = await stack["sims"].new_contract()
    request = {
        "contract_no": contract.contract_no,
        "supplier_credit_code": contract.supplier.credit_code,
        "product_code": "STD",
        "requested_amount": "700000.00",
        "collection_account": {"account_no": "6222020000000021", "account_name": "无锡某某科技有限公司"},
    }
    bank = {"Authorization": f"Bearer {stack['keys']['banks']['ICBC']}"}
    submitted = await http.post("/v1/applications", json=request, headers=bank)
    assert submitted.status_code == 201, submitted.text
    raw = (await http.get("/openapi.json")).json()
    api_url = str(http.base_url).rstrip("/")
    failures = await asyncio.to_thread(exercise, raw, api_url, stack["keys"], submitted.json()["application_id"])
    assert not failures, "\n\n".join(failures)
