"""A supplier's financing request expires (docs/suppliers.md, "A request expires"), over the API
on the module's database and the simulated procurement system and SMS gateway (no Temporal: an
expired request is refused before anything would be submitted). The request's time is moved into
the past in the database, as if the working days had gone by — nothing sleeps."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any, cast

import asyncpg
import httpx
import pytest
from temporalio.client import Client

from api.main import create_app
from domain.application import business_date
from domain.contracts import Contract, Supplier
from domain.settings import Settings
from domain.state_council_calendar import state_council_calendar
from domain.supplier_channel import request_expires_at
from tests.api.conftest import NoTemporal
from tests.api.supplier_sign_in import sign_in
from tests.api.test_problems import assert_problem, bearer
from tests.fixtures.simulators import RunningSimulators, running_simulators, supplier_credit_code

ACCOUNT = {"account_no": "6222024000000001", "account_name": "无锡某某科技有限公司"}
TERMS = {"approved_amount": "800000.00", "annual_rate": "0.0400", "term_days": 240}


@pytest.fixture(scope="module")
async def simulators() -> AsyncIterator[RunningSimulators]:
    """The module's own simulators: the SMS gateway dedupes by the sign-in code's row id, which
    another module's database (sharing the session's gateway) would hand out again."""
    async with running_simulators() as sims:
        yield sims


@pytest.fixture
async def api(
    db_pool: asyncpg.Pool, api_settings: Settings, simulators: RunningSimulators
) -> AsyncIterator[httpx.AsyncClient]:
    settings = api_settings.model_copy(
        update={"sms_url": simulators.sms_url, "procurement_url": simulators.procurement_url}
    )
    app = create_app(settings, pool=db_pool, temporal_client=cast(Client, NoTemporal()))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://api") as client:
            yield client


async def supplier_with_contract(api: httpx.AsyncClient, sims: RunningSimulators) -> tuple[dict[str, str], Contract]:
    credit_code = supplier_credit_code()
    contract = await sims.new_contract(supplier=Supplier(credit_code=credit_code, name="无锡某某科技有限公司"))
    return await sign_in(api, sims, credit_code), contract


async def post_request(api: httpx.AsyncClient, supplier: dict[str, str], contract_no: str) -> dict[str, Any]:
    body = {"contract_no": contract_no, "requested_amount": "800000.00", "collection_account": ACCOUNT}
    posted = await api.post("/v1/supplier/financing-requests", json=body, headers=supplier)
    assert posted.status_code == 201, posted.text
    request: dict[str, Any] = posted.json()
    return request


async def pass_its_time(db_pool: asyncpg.Pool, request_id: str) -> None:
    """As if the request's working days had gone by: made eight days ago, expired a second ago."""
    changed = await db_pool.execute(
        "UPDATE financing_requests SET created_at = now() - interval '8 days', "
        "expires_at = now() - interval '1 second' WHERE request_id = $1",
        request_id,
    )
    assert changed == "UPDATE 1"


async def test_a_request_is_open_until_the_end_of_its_seventh_working_day(
    api: httpx.AsyncClient, simulators: RunningSimulators, credentials: dict[str, Any]
) -> None:
    supplier, contract = await supplier_with_contract(api, simulators)
    request = await post_request(api, supplier, contract.contract_no)
    made, until = datetime.fromisoformat(request["created_at"]), datetime.fromisoformat(request["expires_at"])
    assert request["expires_at"].endswith("+08:00") and until.hour == until.minute == 0
    assert until == request_expires_at(state_council_calendar(business_date(made).year), made, 7)
    # banks see it too, in the list and by its id
    bank = bearer(credentials["banks"]["ICBC"])
    listed = (await api.get("/v1/financing-requests", params={"limit": 200}, headers=bank)).json()["items"]
    assert next(r for r in listed if r["request_id"] == request["request_id"])["expires_at"] == request["expires_at"]
    one = (await api.get(f"/v1/financing-requests/{request['request_id']}", headers=bank)).json()
    assert one["status"] == "open" and one["expires_at"] == request["expires_at"]


async def test_a_request_past_its_time_is_expired_and_its_contract_free(
    api: httpx.AsyncClient, simulators: RunningSimulators, credentials: dict[str, Any], db_pool: asyncpg.Pool
) -> None:
    icbc, abc = bearer(credentials["banks"]["ICBC"]), bearer(credentials["banks"]["ABC"])
    supplier, contract = await supplier_with_contract(api, simulators)
    request = await post_request(api, supplier, contract.contract_no)
    request_id = request["request_id"]
    offers = f"/v1/financing-requests/{request_id}/offers"
    offered = await api.post(offers, json=TERMS, headers=icbc)
    assert offered.status_code == 201, offered.text
    offer_id = offered.json()["offer_id"]
    # while it is open, the contract is held
    assert_problem(
        await api.post(
            "/v1/supplier/financing-requests",
            json={"contract_no": contract.contract_no, "requested_amount": "1.00", "collection_account": ACCOUNT},
            headers=supplier,
        ),
        409,
        "contract_already_financed",
    )

    await pass_its_time(db_pool, request_id)

    shown = (await api.get(f"/v1/supplier/financing-requests/{request_id}", headers=supplier)).json()
    assert shown["status"] == "expired"
    assert [(o["offer_id"], o["status"]) for o in shown["offers"]] == [(offer_id, "lapsed")]
    mine = (await api.get("/v1/supplier/financing-requests", headers=supplier)).json()["items"]
    assert [r["status"] for r in mine if r["request_id"] == request_id] == ["expired"]
    # no bank sees it among the open ones; the bank that offered still finds it, as expired
    for bank in (icbc, abc):
        listed = (await api.get("/v1/financing-requests", params={"limit": 200}, headers=bank)).json()["items"]
        assert request_id not in {r["request_id"] for r in listed}
    theirs = (await api.get(f"/v1/financing-requests/{request_id}", headers=icbc)).json()
    assert theirs["status"] == "expired" and [o["status"] for o in theirs["offers"]] == ["lapsed"]
    expired = (await api.get("/v1/financing-requests", params={"status": "expired"}, headers=icbc)).json()["items"]
    assert request_id in {r["request_id"] for r in expired}
    assert_problem(await api.get(f"/v1/financing-requests/{request_id}", headers=abc), 404, "not_found")

    # nothing more can be done with it
    refused = assert_problem(await api.post(offers, json=TERMS, headers=icbc), 409, "invalid_state")
    assert refused["detail"] == "the financing request is expired, not open"
    accepted = await api.post(
        f"/v1/supplier/financing-requests/{request_id}/accept", json={"offer_id": offer_id}, headers=supplier
    )
    assert assert_problem(accepted, 409, "invalid_state")["detail"] == "the financing request is expired, not open"
    cancelled = await api.post(f"/v1/supplier/financing-requests/{request_id}/cancel", headers=supplier)
    assert "expired" in assert_problem(cancelled, 409, "invalid_state")["detail"]

    # and the contract is free again: the supplier sees it financeable and posts a new request
    contracts = (await api.get("/v1/supplier/contracts", headers=supplier)).json()["items"]
    listed_contract = next(c for c in contracts if c["contract_no"] == contract.contract_no)
    assert listed_contract["financeable"] and listed_contract["financing_request"] is None
    again = await post_request(api, supplier, contract.contract_no)
    assert again["status"] == "open" and again["request_id"] != request_id
    assert datetime.fromisoformat(again["expires_at"]) > datetime.fromisoformat(again["created_at"])


async def test_the_openapi_document_shows_the_expiry(api: httpx.AsyncClient) -> None:
    schemas = (await api.get("/openapi.json")).json()["components"]["schemas"]
    for view in ("SupplierRequestView", "BankRequestView"):
        properties = schemas[view]["properties"]
        assert properties["expires_at"]["type"] == "string" and "expires_at" in schemas[view]["required"]
        assert "expired" in properties["status"]["enum"]
