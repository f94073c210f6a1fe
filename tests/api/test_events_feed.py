"""GET /v1/events on the running platform: a bank follows its loan from submission to
settlement through the feed alone, each change once, in order; another bank sees none of it."""

from __future__ import annotations

from typing import Any

import asyncpg
import httpx
import pytest

from store.principals import ensure_credentials, generate_credentials
from tests.api.lifecycle import bank_headers, disbursed, ops_headers, treasury_notice
from tests.api.test_end_to_end import stack, until  # noqa: F401  (the module's own running platform)

pytestmark = pytest.mark.e2e


async def _drain(http: httpx.AsyncClient, headers: dict[str, str], cursor: str | None) -> tuple[list[Any], str]:
    items: list[Any] = []
    while True:
        params = {"limit": 50} | ({"after": cursor} if cursor else {})
        page = await http.get("/v1/events", params=params, headers=headers)
        assert page.status_code == 200, page.text
        body = page.json()
        assert body["next_cursor"] is not None
        cursor = body["next_cursor"]
        items += body["items"]
        if not body["items"]:
            return items, cursor


async def test_a_bank_follows_its_loan_through_the_feed(stack: dict[str, Any], db_pool: asyncpg.Pool) -> None:  # noqa: F811
    http: httpx.AsyncClient = stack["http"]
    bank = bank_headers(stack)
    _, start = await _drain(http, bank, None)
    app_id, contract = await disbursed(stack, "6222021000000031", "500000.00")
    view = (await http.get(f"/v1/applications/{app_id}", headers=bank)).json()
    notice = {
        "payment_id": f"T-EV-{app_id[:8]}",
        "contract_no": contract.contract_no,
        "payee_account_no": "6222021000000031",
        "amount": "600000.00",
        "paid_on": view["disbursed_on"],
    }
    assert (await treasury_notice(stack, notice)).json() == {"status": "accepted"}
    await until(http, f"/v1/applications/{app_id}", bank, "settled")

    events, cursor = await _drain(http, bank, start)
    mine = [e for e in events if e["application_id"] == app_id]
    assert [(e["type"], e["data"].get("to")) for e in mine] == [
        ("application.submitted", None),
        ("application.stage_changed", "bank_review"),
        ("application.stage_changed", "account_lock"),
        ("application.stage_changed", "disbursing"),
        ("loan.disbursed", None),
        ("application.stage_changed", "repaying"),
        ("repayment.applied", None),
        ("application.stage_changed", "settled"),
    ]
    applied = mine[6]["data"]
    assert applied["source"] == "treasury" and applied["source_id"] == notice["payment_id"]
    assert applied["amount"] == "600000.00" and applied["principal"] == "500000.00"
    assert all(e["at"].endswith("+08:00") and e["bank_code"] == "ICBC" for e in mine)
    assert len({e["event_id"] for e in events}) == len(events)
    # polling again from where it stopped: nothing new, the same cursor back
    again, same = await _drain(http, bank, cursor)
    assert [e for e in again if e["application_id"] == app_id] == [] and same == cursor
    # another bank never sees it; ops see it all
    other_keys = generate_credentials(["ABC"])
    await ensure_credentials(db_pool, other_keys)
    other, _ = await _drain(http, {"Authorization": f"Bearer {other_keys['banks']['ABC']}"}, None)
    assert app_id not in {e["application_id"] for e in other}
    everything, _ = await _drain(http, ops_headers(stack), start)
    assert [e["event_id"] for e in everything if e["application_id"] == app_id] == [e["event_id"] for e in mine]


async def test_a_cursor_the_platform_did_not_issue_is_refused(stack: dict[str, Any]) -> None:  # noqa: F811
    http: httpx.AsyncClient = stack["http"]
    answer = await http.get("/v1/events", params={"after": "12.deadbeef"}, headers=bank_headers(stack))
    assert answer.status_code == 422 and answer.json()["code"] == "validation_error"


async def test_instants_in_answers_carry_the_business_offset(stack: dict[str, Any]) -> None:  # noqa: F811
    """Time as people read it (issue 12): every instant of an application answer is +08:00."""
    http: httpx.AsyncClient = stack["http"]
    bank = bank_headers(stack)
    app_id, _ = await disbursed(stack, "6222021000000032", "500000.00")
    view = (await http.get(f"/v1/applications/{app_id}", headers=bank)).json()
    instants = [view["submitted_at"], view["stage_since"], *(entry["at"] for entry in view["timeline"])]
    assert instants and all(text.endswith("+08:00") for text in instants), instants
    stuck = (await http.get("/v1/ops/stuck", headers=ops_headers(stack))).json()["items"]
    assert all(item["since"].endswith("+08:00") for item in stuck)
