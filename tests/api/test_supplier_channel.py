"""The supplier's channel on the running platform (the end-to-end module's stack: the API on a
real port, the dev server, a worker with the real activities, the simulators calling back): a
supplier signs in by SMS, sees what every bank would lend on its contracts, posts a financing
request, two banks offer, it accepts one, and the loan runs to settlement like any other —
with every refusal the contract names."""

from __future__ import annotations

import uuid
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import asyncpg
import httpx
import pytest

from domain.application import SHANGHAI
from domain.contracts import ContractStatus, Supplier
from domain.maturity import PAYMENT_SLACK_DAYS
from store.audit import AuditTrail
from store.principals import ensure_credentials, generate_credentials
from store.seed import WUXI_BANKS
from tests.api.lifecycle import bank_headers, ops_headers, treasury_notice, until
from tests.api.supplier_sign_in import sign_in
from tests.api.test_end_to_end import stack
from tests.api.test_problems import assert_problem
from tests.fixtures.simulators import supplier_credit_code

__all__ = ["stack"]  # the fixture, shared with the end-to-end module

pytestmark = pytest.mark.e2e

ACCOUNT = {"account_no": "6222024000000001", "account_name": "无锡某某科技有限公司"}


def today() -> date:
    from datetime import datetime

    return datetime.now(SHANGHAI).date()


@pytest.fixture(scope="module")
async def other_bank(stack: dict[str, Any], db_pool: asyncpg.Pool) -> dict[str, str]:
    keys = generate_credentials(["ABC"])
    await ensure_credentials(db_pool, keys)
    return {"Authorization": f"Bearer {keys['banks']['ABC']}"}


async def supplier_with_contract(stack: dict[str, Any], **overrides: Any) -> tuple[dict[str, str], Any]:
    """A new supplier with one effective contract, signed in."""
    credit_code = supplier_credit_code()
    contract = await stack["sims"].new_contract(
        supplier=Supplier(credit_code=credit_code, name="无锡某某科技有限公司"), **overrides
    )
    return await sign_in(stack["http"], stack["sims"], credit_code), contract


def request_body(contract_no: str, amount: str = "800000.00") -> dict[str, Any]:
    return {"contract_no": contract_no, "requested_amount": amount, "collection_account": ACCOUNT}


async def test_contracts_show_what_every_bank_would_lend_as_verification_computes_it(stack: dict[str, Any]) -> None:
    http: httpx.AsyncClient = stack["http"]
    supplier, contract = await supplier_with_contract(stack)
    ended = await stack["sims"].new_contract(supplier=contract.supplier, status=ContractStatus.TERMINATED)
    await stack["sims"].new_contract()  # another supplier's: never listed
    # the treasury paid 200,000.00 the procurement system has not heard of (no loan: kept unmatched)
    notice = {
        "payment_id": f"T-SUP-{uuid.uuid4().hex[:8]}",
        "contract_no": contract.contract_no,
        "payee_account_no": contract.payee_account_no,
        "amount": "200000.00",
        "paid_on": today().isoformat(),
    }
    assert (await treasury_notice(stack, notice)).json() == {"status": "unmatched"}

    answer = await http.get("/v1/supplier/contracts", headers=supplier)
    assert answer.status_code == 200, answer.text
    items = {c["contract_no"]: c for c in answer.json()["items"]}
    assert set(items) == {contract.contract_no, ended.contract_no}
    mine = items[contract.contract_no]
    assert mine["paid_amount"] == "200000.00" and mine["financing"] is None and mine["financeable"]
    assert len(mine["offers"]) == len(WUXI_BANKS)
    assert {o["bank_code"] for o in mine["offers"]} == {b.bank_code for b in WUXI_BANKS}
    icbc = next(o for o in mine["offers"] if o["bank_code"] == "ICBC")
    assert icbc == {
        "bank_code": "ICBC",
        "bank_name": icbc["bank_name"],
        "product_code": "STD",
        "eligible_maximum": "720000.00",  # 0.90 × (1,000,000.00 − 200,000.00)
        "min_rate": "0.0300",
        "max_rate": "0.0600",
        "max_term_days": 365,
        "maturity_warning": None,  # a year's term ends after 2027-03-31
    }
    days = (contract.expected_payment_date - today()).days
    assert mine["term_advice"] == {
        "expected_payment_date": contract.expected_payment_date.isoformat(),
        "days_until_payment": days,
        "suggested_term_days": min(365, max(days, 0) + PAYMENT_SLACK_DAYS),
    }
    terminated = items[ended.contract_no]
    assert not terminated["financeable"] and "terminated" in terminated["not_financeable_because"]
    assert {o["eligible_maximum"] for o in terminated["offers"]} == {"0.00"}

    assert_problem(await http.get("/v1/supplier/contracts", headers=bank_headers(stack)), 403, "forbidden")
    assert_problem(await http.get("/v1/supplier/contracts"), 401, "unauthenticated")


async def test_request_offers_accept_and_the_loan_runs_to_settlement(
    stack: dict[str, Any], other_bank: dict[str, str], db_pool: asyncpg.Pool
) -> None:
    http: httpx.AsyncClient = stack["http"]
    bank = bank_headers(stack)
    supplier, contract = await supplier_with_contract(stack)
    posted = await http.post(
        "/v1/supplier/financing-requests", json=request_body(contract.contract_no), headers=supplier
    )
    assert posted.status_code == 201, posted.text
    request = posted.json()
    request_id = request["request_id"]
    assert request["status"] == "open" and request["offers"] == []
    assert request["collection_account"] == ACCOUNT

    # every bank sees it, without the collection account, with the portrait in plain words
    listed = (await http.get("/v1/financing-requests", params={"limit": 200}, headers=bank)).json()
    seen = next(r for r in listed["items"] if r["request_id"] == request_id)
    assert "collection_account" not in seen and ACCOUNT["account_no"] not in str(seen)
    assert seen["eligible_maximum"] == "900000.00" and seen["product"]["bank_code"] == "ICBC"
    assert seen["credit_profile"]["score"] >= 0 and seen["credit_reasons"][0].startswith("信用评分")
    assert request_id in {
        r["request_id"] for r in (await http.get("/v1/financing-requests", headers=other_bank)).json()["items"]
    }

    # offers are validated like a decision
    offers_path = f"/v1/financing-requests/{request_id}/offers"
    for bad in (
        {"approved_amount": "800000.01", "annual_rate": "0.0400", "term_days": 90},  # above the request
        {"approved_amount": "800000.00", "annual_rate": "0.0601", "term_days": 90},
        {"approved_amount": "800000.00", "annual_rate": "0.0400", "term_days": 366},
        {"approved_amount": "0.00", "annual_rate": "0.0400", "term_days": 90},
        {"approved_amount": "800000.00", "annual_rate": "0.0400", "term_days": 90, "product_code": "NOPE"},
    ):
        assert_problem(await http.post(offers_path, json=bad, headers=bank), 422, "validation_error")
    short = {"approved_amount": "800000.00", "annual_rate": "0.0400", "term_days": 90}
    made = await http.post(offers_path, json=short, headers={**bank, "Idempotency-Key": "offer-1"})
    assert made.status_code == 201, made.text
    offer = made.json()
    again = await http.post(offers_path, json=short, headers={**bank, "Idempotency-Key": "offer-1"})
    assert again.json()["offer_id"] == offer["offer_id"] and again.headers["Idempotent-Replayed"] == "true"
    warning = offer["maturity_warning"]
    assert offer["estimated_maturity_date"] == (today() + timedelta(days=90)).isoformat()
    assert warning is not None and warning["expected_payment_date"] == "2027-03-31"
    assert warning["suggested_term_days"] >= (contract.expected_payment_date - today()).days
    # the bank improves its offer with the suggested term: the earlier one is replaced
    better = {"approved_amount": "800000.00", "annual_rate": "0.0385", "term_days": warning["suggested_term_days"]}
    improved = (await http.post(offers_path, json=better, headers=bank)).json()
    assert improved["maturity_warning"] is None
    theirs = await http.post(offers_path, json={**short, "annual_rate": "0.0360", "term_days": 180}, headers=other_bank)
    assert theirs.status_code == 201, theirs.text

    shown = (await http.get(f"/v1/supplier/financing-requests/{request_id}", headers=supplier)).json()
    statuses = {o["offer_id"]: o["status"] for o in shown["offers"]}
    assert statuses == {offer["offer_id"]: "replaced", improved["offer_id"]: "open", theirs.json()["offer_id"]: "open"}
    assert_problem(
        await http.post(
            f"/v1/supplier/financing-requests/{request_id}/accept",
            json={"offer_id": offer["offer_id"]},
            headers=supplier,
        ),
        409,
        "invalid_state",
    )  # the replaced one
    # a bank sees only its own offers
    icbc_view = (await http.get(f"/v1/financing-requests/{request_id}", headers=bank)).json()
    assert {o["bank_code"] for o in icbc_view["offers"]} == {"ICBC"}

    accepted = await http.post(
        f"/v1/supplier/financing-requests/{request_id}/accept",
        json={"offer_id": improved["offer_id"]},
        headers=supplier,
    )
    assert accepted.status_code == 201, accepted.text
    view = accepted.json()
    app_id = view["application_id"]
    assert view["stage"] == "account_lock" and view["bank_code"] == "ICBC"
    assert (view["approved_amount"], view["annual_rate"], view["term_days"]) == (
        "800000.00",
        "0.0385",
        better["term_days"],
    )
    assert view["financing_request_id"] == request_id and view["offer_id"] == improved["offer_id"]
    assert set(view["credit_profile"]) == {"score", "grade", "reasons"}  # no inputs for the supplier
    replay = await http.post(
        f"/v1/supplier/financing-requests/{request_id}/accept",
        json={"offer_id": improved["offer_id"]},
        headers=supplier,
    )
    assert replay.status_code == 201 and replay.json()["application_id"] == app_id
    after = (await http.get(f"/v1/supplier/financing-requests/{request_id}", headers=supplier)).json()
    assert after["status"] == "accepted" and after["application_id"] == app_id
    assert {o["offer_id"]: o["status"] for o in after["offers"]}[theirs.json()["offer_id"]] == "lapsed"

    # the bank's loan: in its list, its events and with the full credit profile; not another bank's
    mine = (await http.get("/v1/applications", params={"contract_no": contract.contract_no}, headers=bank)).json()
    assert [a["application_id"] for a in mine["items"]] == [app_id]
    assert "contracts_won" in mine["items"][0]["credit_profile"]
    assert_problem(await http.get(f"/v1/applications/{app_id}", headers=other_bank), 404, "not_found")
    events = (await http.get("/v1/events", params={"limit": 500}, headers=bank)).json()["items"]
    assert ("application.submitted", app_id) in {(e["type"], e["application_id"]) for e in events}
    # a bank decision on it is refused: it was approved at the offer's terms
    decision = {"decision": "approve", "approved_amount": "1.00", "annual_rate": "0.0400", "term_days": 1}
    assert_problem(
        await http.post(f"/v1/applications/{app_id}/decision", json=decision, headers=bank), 409, "invalid_state"
    )

    # the purchaser confirms, the loan is paid out, the treasury pays: settled, surplus released
    path = f"/sim/contracts/{contract.contract_no}/account-change"
    assert (await stack["sims"].hook("procurement", "POST", path, {"decision": "confirmed"})).status_code < 300
    await until(http, f"/v1/supplier/applications/{app_id}", supplier, "repaying")
    paid = await stack["sims"].hook(
        "treasury", "POST", "/sim/pay", {"contract_no": contract.contract_no, "amount": "1000000.00"}
    )
    assert paid.json()["platform_status"] == "accepted", paid.text
    settled = await until(http, f"/v1/supplier/applications/{app_id}", supplier, "settled")
    interest = (Decimal("800000.00") * Decimal("0.0385") / 360).quantize(Decimal("0.01"))
    assert settled["principal_repaid"] == "800000.00" and settled["interest_paid"] == str(interest)
    assert settled["surplus_released"] == str(Decimal("200000.00") - interest)
    listed_mine = (await http.get("/v1/supplier/applications", headers=supplier)).json()["items"]
    assert [a["application_id"] for a in listed_mine] == [app_id]

    trail = {(e.actor, e.action) for e in await AuditTrail(db_pool).for_application(app_id)}
    supplier_name = f"supplier:{contract.supplier.credit_code}"
    assert {("bank:ICBC", "application.submitted"), (supplier_name, "supplier.offer_accepted")} <= trail
    actions = await db_pool.fetch("SELECT actor, action FROM audit_log WHERE details->>'request_id' = $1", request_id)
    assert {(r["actor"], r["action"]) for r in actions} >= {
        (supplier_name, "supplier.financing_requested"),
        ("bank:ICBC", "bank.offer_made"),
        ("bank:ABC", "bank.offer_made"),
    }


async def test_a_request_is_refused_as_a_submission_is(stack: dict[str, Any]) -> None:
    http: httpx.AsyncClient = stack["http"]
    supplier, contract = await supplier_with_contract(stack)
    post = "/v1/supplier/financing-requests"
    assert_problem(
        await http.post(post, json=request_body(contract.contract_no, "0.00"), headers=supplier),
        422,
        "validation_error",
    )
    assert_problem(
        await http.post(post, json={"contract_no": contract.contract_no}, headers=supplier), 422, "validation_error"
    )
    assert_problem(
        await http.post(post, json=request_body("WX-NO-SUCH-ONE"), headers=supplier), 404, "contract_not_found"
    )
    too_much = request_body(contract.contract_no, "900000.01")  # 0.90 × 1,000,000.00 = 900,000.00
    assert_problem(await http.post(post, json=too_much, headers=supplier), 422, "validation_error")
    someone_elses = await stack["sims"].new_contract()
    assert_problem(
        await http.post(post, json=request_body(someone_elses.contract_no), headers=supplier), 422, "validation_error"
    )
    ended = await stack["sims"].new_contract(supplier=contract.supplier, status=ContractStatus.COMPLETED)
    assert_problem(
        await http.post(post, json=request_body(ended.contract_no), headers=supplier), 422, "validation_error"
    )

    first = await http.post(post, json=request_body(contract.contract_no), headers=supplier)
    assert first.status_code == 201, first.text
    assert_problem(
        await http.post(post, json=request_body(contract.contract_no), headers=supplier),
        409,
        "contract_already_financed",
    )

    # a contract a bank's application holds
    bank = bank_headers(stack)
    financed = await stack["sims"].new_contract(supplier=contract.supplier)
    submitted = await http.post(
        "/v1/applications",
        json={
            "contract_no": financed.contract_no,
            "supplier_credit_code": contract.supplier.credit_code,
            "product_code": "STD",
            "requested_amount": "500000.00",
            "collection_account": ACCOUNT,
        },
        headers=bank,
    )
    assert submitted.status_code == 201, submitted.text
    assert_problem(
        await http.post(post, json=request_body(financed.contract_no), headers=supplier),
        409,
        "contract_already_financed",
    )
    listed = (await http.get("/v1/supplier/contracts", headers=supplier)).json()["items"]
    held = next(c for c in listed if c["contract_no"] == financed.contract_no)
    assert held["financing"] == {
        "application_id": submitted.json()["application_id"],
        "stage": "bank_review",
        "bank_code": "ICBC",
    }
    # the supplier sees the bank-channel application as its own
    apps = (await http.get("/v1/supplier/applications", headers=supplier)).json()["items"]
    assert submitted.json()["application_id"] in {a["application_id"] for a in apps}


async def test_offers_and_acceptance_are_refused_where_the_contract_says(
    stack: dict[str, Any], other_bank: dict[str, str]
) -> None:
    http: httpx.AsyncClient = stack["http"]
    bank = bank_headers(stack)
    supplier, contract = await supplier_with_contract(stack)
    stranger, _ = await supplier_with_contract(stack)
    request_id = (
        await http.post("/v1/supplier/financing-requests", json=request_body(contract.contract_no), headers=supplier)
    ).json()["request_id"]
    terms = {"approved_amount": "500000.00", "annual_rate": "0.0400", "term_days": 180}
    offer_id = (await http.post(f"/v1/financing-requests/{request_id}/offers", json=terms, headers=bank)).json()[
        "offer_id"
    ]

    accept = f"/v1/supplier/financing-requests/{request_id}/accept"
    assert_problem(await http.post(accept, json={"offer_id": "OF-NOPE"}, headers=supplier), 404, "not_found")
    assert_problem(await http.post(accept, json={"offer_id": offer_id}, headers=stranger), 404, "not_found")
    assert_problem(await http.get(f"/v1/supplier/financing-requests/{request_id}", headers=stranger), 404, "not_found")
    assert_problem(await http.post(accept, json={}, headers=supplier), 422, "validation_error")
    assert_problem(await http.post(accept, json={"offer_id": offer_id}, headers=bank), 403, "forbidden")
    assert_problem(
        await http.post(f"/v1/financing-requests/{request_id}/offers", json=terms, headers=supplier), 403, "forbidden"
    )
    assert_problem(await http.get("/v1/financing-requests", headers=supplier), 403, "forbidden")
    assert_problem(await http.get("/v1/financing-requests", headers=ops_headers(stack)), 403, "forbidden")
    assert_problem(await http.post("/v1/financing-requests/FR-NOPE/offers", json=terms, headers=bank), 404, "not_found")

    cancelled = await http.post(f"/v1/supplier/financing-requests/{request_id}/cancel", headers=supplier)
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    assert {o["status"] for o in cancelled.json()["offers"]} == {"lapsed"}
    assert_problem(
        await http.post(f"/v1/supplier/financing-requests/{request_id}/cancel", headers=supplier), 409, "invalid_state"
    )
    assert_problem(await http.post(accept, json={"offer_id": offer_id}, headers=supplier), 409, "invalid_state")
    # the bank offered on it, so it still sees it (not open any more); another bank does not
    assert (await http.get(f"/v1/financing-requests/{request_id}", headers=bank)).json()["status"] == "cancelled"
    assert_problem(await http.get(f"/v1/financing-requests/{request_id}", headers=other_bank), 404, "not_found")
    assert_problem(
        await http.post(f"/v1/financing-requests/{request_id}/offers", json=terms, headers=bank), 409, "invalid_state"
    )
    # the contract is free again
    again = await http.post(
        "/v1/supplier/financing-requests", json=request_body(contract.contract_no), headers=supplier
    )
    assert again.status_code == 201, again.text


async def test_an_acceptance_refused_at_verification_leaves_the_request_open(stack: dict[str, Any]) -> None:
    http: httpx.AsyncClient = stack["http"]
    bank = bank_headers(stack)
    supplier, contract = await supplier_with_contract(stack)
    request_id = (
        await http.post("/v1/supplier/financing-requests", json=request_body(contract.contract_no), headers=supplier)
    ).json()["request_id"]
    terms = {"approved_amount": "800000.00", "annual_rate": "0.0400", "term_days": 180}
    offer_id = (await http.post(f"/v1/financing-requests/{request_id}/offers", json=terms, headers=bank)).json()[
        "offer_id"
    ]
    # meanwhile the procurement system ends the contract
    await stack["sims"].new_contract(
        contract_no=contract.contract_no, supplier=contract.supplier, status=ContractStatus.TERMINATED
    )
    refused = await http.post(
        f"/v1/supplier/financing-requests/{request_id}/accept", json={"offer_id": offer_id}, headers=supplier
    )
    assert_problem(refused, 422, "validation_error")
    shown = (await http.get(f"/v1/supplier/financing-requests/{request_id}", headers=supplier)).json()
    assert shown["status"] == "open" and shown["application_id"] is None
    assert {o["status"] for o in shown["offers"]} == {"open"}
    assert (await http.get("/v1/supplier/applications", headers=supplier)).json()["items"] == []
