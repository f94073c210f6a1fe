"""A financing reads like a case file in the Temporal UI from its first moment: a static
summary and details at start, and search attributes set at start, so a process stuck in
verification (procurement down) is found by bank and contract before its first step."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from temporalio.client import Client

from domain import workflow_api as names
from tests.api.lifecycle import application_body
from tests.api.test_end_to_end import stack  # noqa: F401  (the module's own running platform)

pytestmark = pytest.mark.e2e


async def test_the_ui_shows_a_summary_and_details_from_the_start(
    stack: dict[str, Any],  # noqa: F811
    dev_server_env: Any,
) -> None:
    http: httpx.AsyncClient = stack["http"]
    contract = await stack["sims"].new_contract()
    bank = {"Authorization": f"Bearer {stack['keys']['banks']['ICBC']}"}
    answer = await http.post("/v1/applications", json=application_body(contract, "6222020000000051"), headers=bank)
    assert answer.status_code == 201, answer.text
    app_id = answer.json()["application_id"]

    described = await dev_server_env.client.get_workflow_handle(names.workflow_id(app_id)).describe()
    summary = await described.static_summary()
    details = await described.static_details()
    assert summary == f"ICBC · contract {contract.contract_no} · 500,000.00 requested (STD)"
    assert details is not None and app_id in details and "/v1/ops/applications/" in details
    # no account number or credit code in what the UI lists
    assert "6222020000000051" not in summary + details
    assert contract.supplier.credit_code not in summary + details


async def test_a_process_stuck_in_verification_is_found_by_bank_and_contract(
    stack: dict[str, Any],  # noqa: F811
    dev_server_env: Any,
) -> None:
    http: httpx.AsyncClient = stack["http"]
    client: Client = dev_server_env.client
    contract = await stack["sims"].new_contract()
    bank = {"Authorization": f"Bearer {stack['keys']['banks']['ICBC']}"}
    query = f'{names.SA_CONTRACT} = "{contract.contract_no}" AND {names.SA_BANK} = "ICBC"'
    async with stack["sims"].faults("procurement", outage=True):
        submitting = asyncio.create_task(
            http.post("/v1/applications", json=application_body(contract, "6222020000000052"), headers=bank)
        )
        found = []
        for _ in range(100):  # visibility is eventually consistent: poll it, bounded
            found = [execution async for execution in client.list_workflows(query)]
            if found:
                break
            await asyncio.sleep(0.1)
        assert len(found) == 1, "the process is not findable while procurement is down"
        attributes = found[0].typed_search_attributes
        stage = next(pair.value for pair in attributes if pair.key.name == names.SA_STAGE)
        assert stage == "verifying"
        assert not submitting.done()
    answer = await submitting  # procurement is back: verification retries and completes
    assert answer.status_code == 201, answer.text
    assert answer.json()["stage"] == "bank_review"
