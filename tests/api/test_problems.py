"""Every error is application/problem+json with type, title, status, detail and code."""

from __future__ import annotations

from typing import Any

import httpx

PROBLEM = "application/problem+json"


def assert_problem(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    assert body["code"] == code
    for member in ("type", "title", "detail"):
        assert isinstance(body[member], str) and body[member]
    return body


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


async def test_unknown_route_is_a_not_found_problem(api: httpx.AsyncClient) -> None:
    assert_problem(await api.get("/v1/nothing-here"), 404, "not_found")


async def test_wrong_method_is_a_problem(api: httpx.AsyncClient) -> None:
    response = await api.delete("/healthz")
    assert response.status_code == 405
    assert response.headers["content-type"].startswith(PROBLEM)
    assert {"type", "title", "status", "detail", "code"} <= response.json().keys()


async def test_malformed_json_is_a_validation_error(api: httpx.AsyncClient, credentials: dict[str, Any]) -> None:
    response = await api.post(
        "/v1/applications",
        content=b'{"contract_no": ',
        headers={**bearer(credentials["banks"]["ICBC"]), "Content-Type": "application/json"},
    )
    assert_problem(response, 422, "validation_error")


async def test_wrong_types_are_a_validation_error(api: httpx.AsyncClient, credentials: dict[str, Any]) -> None:
    body = {
        "contract_no": "WX-2026-000123",
        "supplier_credit_code": "not-a-code",
        "product_code": "STD",
        "requested_amount": 700000.5,
        "collection_account": {"account_no": "6222020000000001", "account_name": "x"},
    }
    response = await api.post("/v1/applications", json=body, headers=bearer(credentials["banks"]["ICBC"]))
    problem = assert_problem(response, 422, "validation_error")
    assert problem["errors"]


async def test_negative_amount_is_a_validation_error(api: httpx.AsyncClient, credentials: dict[str, Any]) -> None:
    body = {
        "contract_no": "WX-2026-000123",
        "supplier_credit_code": "91320200MA1MXY3K0X",
        "product_code": "STD",
        "requested_amount": "-1.00",
        "collection_account": {"account_no": "6222020000000001", "account_name": "x"},
    }
    response = await api.post("/v1/applications", json=body, headers=bearer(credentials["banks"]["ICBC"]))
    assert_problem(response, 422, "validation_error")


async def test_bad_cursor_is_a_validation_error(api: httpx.AsyncClient, credentials: dict[str, Any]) -> None:
    response = await api.get("/v1/applications?cursor=%%%", headers=bearer(credentials["banks"]["ICBC"]))
    assert_problem(response, 422, "validation_error")


async def test_health_and_metrics(api: httpx.AsyncClient) -> None:
    assert (await api.get("/healthz")).json() == {"status": "ok"}
    metrics = await api.get("/metrics")
    assert metrics.status_code == 200
    assert "zcd_http_requests_total" in metrics.text


async def test_openapi_is_served(api: httpx.AsyncClient) -> None:
    document = (await api.get("/openapi.json")).json()
    assert "/v1/applications" in document["paths"]
    assert "/v1/treasury/payments" in document["paths"]
