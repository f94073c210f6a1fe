"""Every edge holds (API.md v1.1 "Edges"): each class of bad input gets its clear answer and
changes nothing — no row in any table, and never Temporal (the API here has none behind it:
reaching it fails the test)."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import httpx
import pytest

from domain.credit_code import make_credit_code
from domain.signing import SIGNATURE_HEADER, signature_header
from tests.api.test_problems import assert_problem, bearer

SUPPLIER = make_credit_code("91320200", "MA1MXY3K")
TABLES = ("applications", "treasury_payments", "account_change_events", "idempotency_keys", "ledger_entries")


async def _counts(pool: asyncpg.Pool) -> dict[str, int]:
    counts = {}
    for table in TABLES:
        counts[table] = await pool.fetchval(f"SELECT count(*) FROM {table}")
    # writes in the audit trail (reads are audited too, as reads)
    counts["audit writes"] = await pool.fetchval("SELECT count(*) FROM audit_log WHERE action NOT LIKE 'read %'")
    return counts


def _application(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "contract_no": "WX-2026-EDGE01",
        "supplier_credit_code": SUPPLIER,
        "product_code": "STD",
        "requested_amount": "700000.00",
        "collection_account": {"account_no": "6222020000000001", "account_name": "无锡某某科技有限公司"},
    }
    body.update(overrides)
    return body


def _signed(secret: str, body: dict[str, Any] | bytes) -> tuple[bytes, dict[str, str]]:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return raw, {SIGNATURE_HEADER: signature_header(secret, int(time.time()), raw), "content-type": "application/json"}


def _payment(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "payment_id": "T-EDGE-1",
        "contract_no": "WX-2026-EDGE01",
        "payee_account_no": "6222020000000001",
        "amount": "1000.00",
        "paid_on": "2026-11-27",
    }
    body.update(overrides)
    return body


@pytest.fixture
async def unchanged(db_pool: asyncpg.Pool) -> AsyncIterator[None]:
    before = await _counts(db_pool)
    yield
    assert await _counts(db_pool) == before, "a refused request changed the platform's records"


MONEY_REFUSED = ["99999999999999999.99", "1000000000000.00", "1.001", "1e3", 1.5, "NaN", "-0.01", "0.00"]


@pytest.mark.parametrize("amount", MONEY_REFUSED)
async def test_money_beyond_bounds_is_refused_in_every_body(
    api: httpx.AsyncClient, credentials: dict[str, Any], unchanged: None, amount: Any
) -> None:
    bank = bearer(credentials["banks"]["ICBC"])
    response = await api.post("/v1/applications", json=_application(requested_amount=amount), headers=bank)
    assert_problem(response, 422, "validation_error")
    raw, headers = _signed(credentials["treasury_secret"], _payment(amount=amount))
    assert_problem(await api.post("/v1/treasury/payments", content=raw, headers=headers), 422, "validation_error")


async def test_the_largest_amount_is_taken_as_money(api: httpx.AsyncClient, credentials: dict[str, Any]) -> None:
    """999999999999.99 passes the edge (then the contract is unknown: no contract, 404 here is
    the procurement system's answer — this API has no Temporal, so stop at the edge check)."""
    from domain.application import ApplicationRequest

    assert ApplicationRequest.model_validate(_application(requested_amount="999999999999.99")).requested_amount


@pytest.mark.parametrize(
    "text",
    ["a\u0000b", "line\nbreak", "tab\there", "del\u007f", "x" * 501],
)
async def test_text_with_control_characters_or_too_long_is_refused(
    api: httpx.AsyncClient, credentials: dict[str, Any], unchanged: None, text: str
) -> None:
    bank, ops = bearer(credentials["banks"]["ICBC"]), bearer(credentials["ops"])
    account = {"account_no": "6222020000000001", "account_name": text}
    response = await api.post("/v1/applications", json=_application(collection_account=account), headers=bank)
    assert_problem(response, 422, "validation_error")
    # ops bodies go through the same types (a NUL in a cancel reason once hung the workflow)
    for path, body in (
        ("cancel", {"reason": text}),
        ("extend-deadline", {"days": 3, "note": text}),
        ("resend-to-bank", {"note": text}),
        ("acknowledge", {"reason": "misdirected:T-1", "note": text}),
        ("account-lock", {"decision": "confirmed", "note": text}),
    ):
        answer = await api.post(f"/v1/ops/applications/some-app/{path}", json=body, headers=ops)
        assert_problem(answer, 422, "validation_error")


async def test_a_lone_surrogate_or_invalid_utf8_is_refused(
    api: httpx.AsyncClient, credentials: dict[str, Any], unchanged: None
) -> None:
    bank = {**bearer(credentials["banks"]["ICBC"]), "content-type": "application/json"}
    surrogate = json.dumps(_application(contract_no="WX-\ud800")).encode()
    assert_problem(await api.post("/v1/applications", content=surrogate, headers=bank), 422, "validation_error")
    broken = json.dumps(_application()).encode().replace(b"WX-2026-EDGE01", b"WX-\xff\xfe")
    assert_problem(await api.post("/v1/applications", content=broken, headers=bank), 422, "validation_error")


@pytest.mark.parametrize("contract_no", ["..", "a/b", "WX 2026", "x" * 65, "", "WX-\u0000"])
async def test_ids_that_cannot_be_ids_are_refused(
    api: httpx.AsyncClient, credentials: dict[str, Any], unchanged: None, contract_no: str
) -> None:
    bank = bearer(credentials["banks"]["ICBC"])
    if contract_no != "..":  # ".." is an id like any other; it reaches the procurement system as itself
        response = await api.post("/v1/applications", json=_application(contract_no=contract_no), headers=bank)
        assert_problem(response, 422, "validation_error")
    listed = await api.get("/v1/applications", params={"contract_no": contract_no or "a b"}, headers=bank)
    if contract_no == "..":
        assert listed.status_code == 200
    else:
        assert_problem(listed, 422, "validation_error")


@pytest.mark.parametrize("path_id", ["%00", "a%20b", "x" * 65, "%F0%9F%98%80" * 65, "unknown-but-valid"])
async def test_a_path_id_that_cannot_be_one_is_not_found(
    api: httpx.AsyncClient, credentials: dict[str, Any], unchanged: None, path_id: str
) -> None:
    bank = bearer(credentials["banks"]["ICBC"])
    assert_problem(await api.get(f"/v1/applications/{path_id}", headers=bank), 404, "not_found")
    decision = {"decision": "reject", "reason": "x"}
    response = await api.post(f"/v1/applications/{path_id}/decision", json=decision, headers=bank)
    assert_problem(response, 404, "not_found")


@pytest.mark.parametrize("key", ["", "é", "k" * 256, "tab\tkey"])
async def test_a_malformed_idempotency_key_is_refused(
    api: httpx.AsyncClient, credentials: dict[str, Any], unchanged: None, key: str
) -> None:
    headers: dict[str, Any] = {**bearer(credentials["banks"]["ICBC"]), "content-type": "application/json"}
    headers["Idempotency-Key"] = key.encode()  # sent as its UTF-8 bytes, as a careless client would
    content = json.dumps(_application()).encode()
    response = await api.post("/v1/applications", content=content, headers=headers)
    assert_problem(response, 422, "validation_error")


@pytest.mark.parametrize(
    "cursor", ["not-a-cursor", "WyIyMDI2LTEx\u0000", "eyJ4IjoxfQ.0000", "WzAsMF0.deadbeefdeadbeefdeadbeefdeadbeef"]
)
async def test_a_cursor_the_api_did_not_issue_is_refused(
    api: httpx.AsyncClient, credentials: dict[str, Any], cursor: str
) -> None:
    for path, who in (("/v1/applications", "bank"), ("/v1/ops/payments", "ops")):
        key = credentials["banks"]["ICBC"] if who == "bank" else credentials["ops"]
        assert_problem(await api.get(path, params={"cursor": cursor}, headers=bearer(key)), 422, "validation_error")


async def test_a_tampered_cursor_is_refused_and_an_issued_one_works(
    api: httpx.AsyncClient, credentials: dict[str, Any], db_pool: asyncpg.Pool
) -> None:
    ops = bearer(credentials["ops"])
    for n in range(3):
        raw, headers = _signed(credentials["treasury_secret"], _payment(payment_id=f"T-CUR-{n}", contract_no="WX-CUR"))
        assert (await api.post("/v1/treasury/payments", content=raw, headers=headers)).status_code == 202
    first = (await api.get("/v1/ops/payments", params={"limit": 1}, headers=ops)).json()
    cursor = first["next_cursor"]
    assert cursor is not None
    assert (await api.get("/v1/ops/payments", params={"limit": 1, "cursor": cursor}, headers=ops)).status_code == 200
    flipped = cursor[:-1] + ("0" if cursor[-1] != "0" else "1")
    tampered = await api.get("/v1/ops/payments", params={"limit": 1, "cursor": flipped}, headers=ops)
    assert_problem(tampered, 422, "validation_error")


@pytest.mark.parametrize(
    "decided_at", ["0001-01-01T00:00:00+00:00", "2101-01-01T00:00:00+08:00", "2026-11-27T10:00:00"]
)
async def test_instants_outside_2000_2100_or_without_offset_are_refused(
    api: httpx.AsyncClient, credentials: dict[str, Any], unchanged: None, decided_at: str
) -> None:
    event = {"event_id": "E-EDGE", "contract_no": "WX-EDGE", "decision": "confirmed", "decided_at": decided_at}
    raw, headers = _signed(credentials["procurement_secret"], event)
    response = await api.post("/v1/procurement/account-changes", content=raw, headers=headers)
    assert_problem(response, 422, "validation_error")


async def test_a_future_treasury_payment_is_refused_before_it_is_recorded(
    api: httpx.AsyncClient, credentials: dict[str, Any], unchanged: None
) -> None:
    for paid_on in ("9999-12-31", "2100-01-01"):
        raw, headers = _signed(credentials["treasury_secret"], _payment(payment_id="T-FUTURE", paid_on=paid_on))
        response = await api.post("/v1/treasury/payments", content=raw, headers=headers)
        assert_problem(response, 422, "validation_error")


async def test_a_body_over_one_mebibyte_is_413_before_it_is_parsed(
    api: httpx.AsyncClient, credentials: dict[str, Any], unchanged: None
) -> None:
    big = b'{"contract_no": "' + b"x" * (1024 * 1024) + b'"}'
    bank = {**bearer(credentials["banks"]["ICBC"]), "content-type": "application/json"}
    assert_problem(await api.post("/v1/applications", content=big, headers=bank), 413, "payload_too_large")
    raw, headers = _signed(credentials["treasury_secret"], big)
    assert_problem(await api.post("/v1/treasury/payments", content=raw, headers=headers), 413, "payload_too_large")

    async def streamed() -> Any:  # no Content-Length: cut off while it is read
        for _ in range(3):
            yield b"x" * (512 * 1024)

    response = await api.post("/v1/applications", content=streamed(), headers=bank)
    assert_problem(response, 413, "payload_too_large")


async def test_no_credentials_is_401_before_the_body_is_read(api: httpx.AsyncClient, unchanged: None) -> None:
    junk = b"{" * 2048  # never parsed: a 422 here would mean it was
    headers = {"content-type": "application/json"}
    for path in ("/v1/applications", "/v1/applications/x/decision", "/v1/ops/applications/x/cancel"):
        assert_problem(await api.post(path, content=junk, headers=headers), 401, "unauthenticated")
