"""The steps of a financing as the outside world takes them through the public API, shared by
the end-to-end modules that run on the `stack` of tests/api/test_end_to_end.py: the bank's
application body, submitting it, a loan taken to `repaying`, and the treasury's signed notice —
each through `outside_world`, the client the demo and the other suites use."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import httpx

from domain.contracts import Contract
from domain.stages import Stage
from outside_world import Handoff, OutsideWorld
from outside_world.bank import Bank, application_request

ACCOUNT_NAME = "无锡某某科技有限公司"


def world_of(stack: dict[str, Any]) -> OutsideWorld:
    """The outside world of a test's stack: its API, its simulators and its keys."""
    settings, keys = stack["settings"], stack["keys"]
    handoff = Handoff(
        api=settings.api_url,
        procurement=settings.procurement_url,
        bank=settings.bank_url,
        treasury=settings.treasury_url,
        bank_keys=keys["banks"],
        ops_key=keys["ops"],
        treasury_secret=keys["treasury_secret"],
        procurement_secret=keys["procurement_secret"],
    )
    return OutsideWorld(handoff, stack["http"])


def bank_headers(stack: dict[str, Any], bank_code: str = "ICBC") -> dict[str, str]:
    return world_of(stack).bank(bank_code).headers


def ops_headers(stack: dict[str, Any]) -> dict[str, str]:
    return world_of(stack).ops.headers


def application_body(contract: Contract, account_no: str, amount: str = "500000.00") -> dict[str, Any]:
    """POST /v1/applications for `contract`'s own supplier, product STD."""
    request = application_request(
        contract.contract_no, contract.supplier.credit_code, Decimal(amount), account_no, ACCOUNT_NAME
    )
    body: dict[str, Any] = request.model_dump(mode="json")
    return body


async def until(http: httpx.AsyncClient, path: str, headers: dict[str, str], stage: str) -> dict[str, Any]:
    """Read `path` (an application, as `headers`' principal sees it) until it is in `stage`."""

    async def read(_: str) -> Any:
        return (await http.get(path, headers=headers)).json()

    reader = Bank(http, "", "", "")
    return await reader.until(path, lambda view: view.get("stage") == stage, f"stage {stage}", within=30, read=read)


async def disbursed(
    stack: dict[str, Any], account_no: str, amount: str, *, annual_rate: str = "0.0400", term_days: int = 90
) -> tuple[str, Contract]:
    """A new contract's application submitted, approved in full, confirmed by the purchaser
    online and paid out: (application id, contract) once it is `repaying`."""
    world = world_of(stack)
    bank = world.bank("ICBC")
    contract = await stack["sims"].new_contract()
    submitted = await bank.submit(application_body(contract, account_no, amount))
    app_id = str(submitted["application_id"])
    await bank.approve(app_id, Decimal(amount), Decimal(annual_rate), term_days)
    await world.procurement.purchaser_answers(contract.contract_no, "confirmed")
    await bank.until_stage(app_id, Stage.REPAYING, within=30)
    return app_id, contract


async def treasury_notice(stack: dict[str, Any], notice: dict[str, Any]) -> httpx.Response:
    """POST /v1/treasury/payments signed with the treasury's secret, as the treasury sends it."""
    return await world_of(stack).treasury.notify(notice)
