"""Idempotency on every change a bank makes (API.md: submission, and v1.1: decision, withdraw,
repayments, write-off). Keys are scoped to the bank and the endpoint; the same key with the same
body (compared as parsed JSON) answers the first answer again, with `Idempotent-Replayed: true`;
the same key with another body is 422 `idempotency_key_mismatch`; refusals are not remembered,
so a retry of one is evaluated afresh. The algorithm lives here, not in the handlers."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from fastapi.responses import JSONResponse

from api.problems import Problem
from api.state import AppState
from domain.errors import HTTP_STATUS, ErrorCode
from store.idempotency import request_hash

REPLAYED = {"Idempotent-Replayed": "true"}


def scoped_key(endpoint: str, application_id: str, key: str) -> str:
    return f"{endpoint}:{application_id}:{key}"


async def once(
    state: AppState,
    bank_code: str,
    scope: str | None,
    endpoint: str,
    body: Any,
    act: Callable[[bool], Awaitable[tuple[int, Any]]],
) -> JSONResponse:
    """Run `act` (which answers status and JSON body) at most once per (bank, scoped key);
    `scope` None: the request carried no key.

    `act(resumed)`: resumed is True when this request took over the key of one that died
    mid-flight — its change may already be made, and then this retry answers as the first
    would have. Under a fresh key (or none) a change already made is someone else's: 409."""
    if scope is None:
        status, payload = await act(False)
        return JSONResponse(payload, status_code=status)
    keys = state.repos.idempotency
    digest = request_hash({"endpoint": endpoint, "body": body})
    existing, resumed = await keys.claim(bank_code, scope, digest)
    if existing is not None:
        if existing.request_hash != digest:
            raise Problem(
                ErrorCode.IDEMPOTENCY_KEY_MISMATCH, "this Idempotency-Key was used with a different request body"
            )
        if existing.response_status is not None:
            return JSONResponse(existing.response_body, status_code=existing.response_status, headers=REPLAYED)
        raise Problem(
            ErrorCode.UPSTREAM_UNAVAILABLE,
            "the first request with this Idempotency-Key is still being processed; retry shortly",
            headers={"Retry-After": "2"},
        )
    try:
        status, payload = await act(resumed)
    except Problem as problem:
        if HTTP_STATUS[problem.code] < 500:
            await keys.release(bank_code, scope)  # a refusal is not remembered: a retry re-evaluates
        # else the outcome is unknown (the workflow may have taken it): the reservation stays, a
        # retry hears "still being processed" until it is stale, then acts again
        raise
    await keys.store(bank_code, scope, status, payload)
    return JSONResponse(payload, status_code=status)
