"""Who may call each route is declared once, by its router (`APIRouter(dependencies=[...])`,
api/auth.py), never left to a handler that could forget it.

- every route the app serves is in `AUDIENCE` (with the one access dependency its router
  declares) or in `PUBLIC`: a new route fails here until it is put in one of them on purpose;
- a handler that takes the principal as a parameter (for the bank code, the audit trail) takes
  its router's — the same dependency, evaluated once per request — and never another;
- through the running app, every guarded route refuses a caller of the wrong kind before its
  handler runs: no credentials 401 `unauthenticated` (the bureau's pages: 303 to sign in;
  the signed callbacks: 401 `bad_signature`), a credential of another kind 403 `forbidden`.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import asyncpg
import httpx
import pytest
from fastapi import APIRouter, Depends, FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, RouteContext, iter_route_contexts

from api import auth
from api.auth import (
    BankPrincipal,
    bank_or_ops,
    bank_principal,
    ops_principal,
    procurement_body,
    supplier_principal,
    treasury_body,
)
from api.bureau.session import operator
from api.codec_session import codec_principal
from api.edge import WITHOUT_BEARER as EDGE_WITHOUT_BEARER
from api.main import ROUTERS, create_app
from api.routes.supplier_auth import login_code_secret
from domain.settings import Settings
from domain.supplier_login import code_digest
from store.supplier_logins import SupplierLogins, new_code, new_token
from tests.api.test_problems import assert_problem, bearer

BANK, OPS, BANK_OR_OPS, SUPPLIER = bank_principal, ops_principal, bank_or_ops, supplier_principal
CODEC = codec_principal  # the ops key, or a codec session cookie
BUREAU = operator  # the ops key, or a bureau session cookie
TREASURY, PROCUREMENT = treasury_body, procurement_body  # signed bodies, no bearer key

ACCESS: frozenset[Callable[..., Any]] = frozenset(
    {BANK, OPS, BANK_OR_OPS, SUPPLIER, CODEC, BUREAU, TREASURY, PROCUREMENT}
)

AUDIENCE: dict[tuple[str, str], Callable[..., Any]] = {
    ("GET", "/v1/applications"): BANK_OR_OPS,
    ("GET", "/v1/applications/{application_id}"): BANK_OR_OPS,
    ("POST", "/v1/applications"): BANK,
    ("POST", "/v1/applications/{application_id}/decision"): BANK,
    ("POST", "/v1/applications/{application_id}/withdraw"): BANK,
    ("POST", "/v1/applications/{application_id}/repayments"): BANK,
    ("POST", "/v1/applications/{application_id}/write-off"): BANK,
    ("GET", "/v1/events"): BANK_OR_OPS,
    ("POST", "/v1/treasury/payments"): TREASURY,
    ("POST", "/v1/procurement/account-changes"): PROCUREMENT,
    ("GET", "/v1/ops/payments"): OPS,
    ("GET", "/v1/ops/stuck"): OPS,
    ("POST", "/v1/ops/applications/{application_id}/resend-to-bank"): OPS,
    ("POST", "/v1/ops/applications/{application_id}/extend-deadline"): OPS,
    ("POST", "/v1/ops/applications/{application_id}/cancel"): OPS,
    ("POST", "/v1/ops/applications/{application_id}/acknowledge"): OPS,
    ("POST", "/v1/ops/applications/{application_id}/account-lock"): OPS,
    ("GET", "/v1/stats"): OPS,
    ("GET", "/v1/stats/monthly"): OPS,
    ("GET", "/v1/stats/export.csv"): OPS,
    ("POST", "/codec/encode"): CODEC,
    ("POST", "/codec/decode"): CODEC,
    ("POST", "/codec/session"): OPS,
    ("GET", "/bureau/"): BUREAU,
    ("GET", "/bureau/export.csv"): BUREAU,
    ("POST", "/v1/supplier/sign-out"): SUPPLIER,
    ("GET", "/v1/supplier/contracts"): SUPPLIER,
    ("GET", "/v1/supplier/applications"): SUPPLIER,
    ("GET", "/v1/supplier/applications/{application_id}"): SUPPLIER,
    ("POST", "/v1/supplier/financing-requests"): SUPPLIER,
    ("GET", "/v1/supplier/financing-requests"): SUPPLIER,
    ("GET", "/v1/supplier/financing-requests/{request_id}"): SUPPLIER,
    ("POST", "/v1/supplier/financing-requests/{request_id}/accept"): SUPPLIER,
    ("POST", "/v1/supplier/financing-requests/{request_id}/cancel"): SUPPLIER,
    ("GET", "/v1/financing-requests"): BANK,
    ("GET", "/v1/financing-requests/{request_id}"): BANK,
    ("POST", "/v1/financing-requests/{request_id}/offers"): BANK,
}

# Open to anyone, deliberately. Each sign-in form checks the credential it is sent itself.
PUBLIC: frozenset[tuple[str, str]] = frozenset(
    {
        ("GET", "/healthz"),
        ("GET", "/readyz"),
        ("GET", "/metrics"),
        ("GET", "/openapi.json"),
        ("GET", "/docs"),
        ("GET", "/docs/oauth2-redirect"),
        ("GET", "/redoc"),
        ("*", "/static-offline-docs"),  # the documentation pages' own scripts
        ("POST", "/v1/supplier/login-codes"),  # the SMS code is the credential
        ("POST", "/v1/supplier/sessions"),
        ("GET", "/codec/login"),
        ("POST", "/codec/login"),  # checks the ops key it is posted
        ("DELETE", "/codec/session"),  # clears this browser's cookie
        ("GET", "/bureau"),  # a redirect to /bureau/
        ("GET", "/bureau/login"),
        ("POST", "/bureau/login"),  # checks the ops key it is posted
        ("POST", "/bureau/logout"),  # clears this browser's cookie
        ("GET", "/supplier"),  # the supplier's static pages (they call /v1/supplier/*)
        ("GET", "/supplier/"),
        ("GET", "/supplier/app.js"),
        ("GET", "/supplier/app.css"),
    }
)


def served() -> dict[tuple[str, str], RouteContext]:
    """Every (method, path) the app answers, with the route that answers it."""
    app = create_app(Settings())
    found: dict[tuple[str, str], RouteContext] = {}
    for route in iter_route_contexts(app.routes):
        assert route.path is not None, route
        for method in sorted((route.methods or {"*"}) - {"HEAD"}):
            assert (method, route.path) not in found, f"{method} {route.path} is served twice"
            found[(method, route.path)] = route
    return found


def owner(route: RouteContext) -> APIRouter | None:
    """The router in api.main.ROUTERS that holds this route, else None (the app's own)."""
    return next((r for r in ROUTERS if any(held is route.original_route for held in r.routes)), None)


def router_level_access(route: RouteContext, router: APIRouter | None) -> list[Callable[..., Any]]:
    """The access dependencies declared for this route by its router (or its inclusion) —
    not by its decorator, nor by its handler's parameters."""
    original = route.original_route
    if not isinstance(original, APIRoute):
        return []
    # a route's own `dependencies` are its router's, then its decorator's
    on_decorator = original.dependencies[len(router.dependencies) if router is not None else 0 :]
    declared = [d for d in route.dependencies if all(d is not own for own in on_decorator)]
    return [d.dependency for d in declared if d.dependency in ACCESS]


def access_anywhere(dependant: Dependant) -> set[Callable[..., Any]]:
    found = {dependant.call} & ACCESS if dependant.call is not None else set()
    for sub in dependant.dependencies:
        found |= access_anywhere(sub)
    return found


def test_every_route_is_either_guarded_by_its_router_or_deliberately_public() -> None:
    routes = served()
    assert not set(AUDIENCE) & PUBLIC
    assert set(routes) == set(AUDIENCE) | PUBLIC, (
        f"not listed: {sorted(set(routes) - set(AUDIENCE) - PUBLIC)}; "
        f"listed but not served: {sorted((set(AUDIENCE) | PUBLIC) - set(routes))}"
    )
    wrong = {}
    for key, route in routes.items():
        declared = router_level_access(route, owner(route))
        expected = [AUDIENCE[key]] if key in AUDIENCE else []
        if declared != expected:
            wrong[key] = ([d.__name__ for d in declared], [d.__name__ for d in expected])
        if key in AUDIENCE:
            assert owner(route) is not None, f"{key}: not a router of api.main.ROUTERS"
    assert wrong == {}, "(declared by the router, expected)"


def test_a_handler_takes_only_its_routers_principal() -> None:
    """A handler that needs the principal's value takes the very dependency its router declares
    (evaluated once per request); a different one would be a second, handler-level rule."""
    for key, route in served().items():
        if isinstance(route.original_route, APIRoute):
            expected = {AUDIENCE[key]} if key in AUDIENCE else set()
            assert access_anywhere(route.original_route.dependant) == expected, key


def test_the_edge_asks_for_a_bearer_key_exactly_where_the_routers_do() -> None:
    """The edge (api/edge.py) answers 401 to a /v1 change without a bearer key before its body is
    read, by path: its exemptions are exactly the routes that take no key — the open sign-ins
    and the signed callbacks — so it neither locks out an open route nor reads a guarded one's
    body before refusing it."""
    for method, path in served():
        if method in ("POST", "PUT", "PATCH") and path.startswith("/v1/"):
            takes_no_key = (method, path) in PUBLIC or AUDIENCE.get((method, path)) in (TREASURY, PROCUREMENT)
            assert path.startswith(EDGE_WITHOUT_BEARER) == takes_no_key, (method, path)


def test_the_check_sees_an_access_rule_left_to_a_handler() -> None:
    """The structural test could pass by reading the wrong list: a route whose access is only a
    handler parameter, or only its decorator's, has none at its router's level."""
    open_router = APIRouter()

    @open_router.get("/v1/in-handler")
    async def in_handler(who: BankPrincipal) -> None:  # pragma: no cover - never called
        return None

    @open_router.get("/v1/on-decorator", dependencies=[Depends(bank_principal)])
    async def on_decorator() -> None:  # pragma: no cover - never called
        return None

    guarded = APIRouter(dependencies=[Depends(bank_principal)])

    @guarded.get("/v1/on-router", dependencies=[Depends(ops_principal)])
    async def on_router() -> None:  # pragma: no cover - never called
        return None

    app = FastAPI()
    app.include_router(open_router)
    app.include_router(guarded)
    routes = {r.path: r for r in iter_route_contexts(app.routes)}
    handlers = {path: route.original_route for path, route in routes.items()}
    assert router_level_access(routes["/v1/in-handler"], open_router) == []
    assert router_level_access(routes["/v1/on-decorator"], open_router) == []
    assert router_level_access(routes["/v1/on-router"], guarded) == [bank_principal]
    in_handler_route, on_router_route = handlers["/v1/in-handler"], handlers["/v1/on-router"]
    assert isinstance(in_handler_route, APIRoute) and isinstance(on_router_route, APIRoute)
    assert access_anywhere(in_handler_route.dependant) == {bank_principal}
    assert access_anywhere(on_router_route.dependant) == {bank_principal, ops_principal}


# ---- through the running app ------------------------------------------------------------------

NONE, BANK_KEY, OPS_KEY, SUPPLIER_TOKEN = "no credentials", "a bank key", "the ops key", "a supplier's token"

# what each audience answers each caller it does not admit: (status, problem code or Location)
REFUSALS: dict[Callable[..., Any], dict[str, tuple[int, str]]] = {
    BANK: {NONE: (401, "unauthenticated"), OPS_KEY: (403, "forbidden"), SUPPLIER_TOKEN: (403, "forbidden")},
    OPS: {NONE: (401, "unauthenticated"), BANK_KEY: (403, "forbidden"), SUPPLIER_TOKEN: (403, "forbidden")},
    BANK_OR_OPS: {NONE: (401, "unauthenticated"), SUPPLIER_TOKEN: (403, "forbidden")},
    SUPPLIER: {NONE: (401, "unauthenticated"), BANK_KEY: (403, "forbidden"), OPS_KEY: (403, "forbidden")},
    CODEC: {NONE: (401, "unauthenticated"), BANK_KEY: (403, "forbidden"), SUPPLIER_TOKEN: (403, "forbidden")},
    BUREAU: {NONE: (303, "/bureau/login"), BANK_KEY: (403, "forbidden"), SUPPLIER_TOKEN: (403, "forbidden")},
    TREASURY: {NONE: (401, "bad_signature"), BANK_KEY: (401, "bad_signature"), OPS_KEY: (401, "bad_signature")},
    PROCUREMENT: {NONE: (401, "bad_signature"), BANK_KEY: (401, "bad_signature"), OPS_KEY: (401, "bad_signature")},
}

CASES = [
    (method, path, caller, answer)
    for (method, path), audience in AUDIENCE.items()
    for caller, answer in REFUSALS[audience].items()
]


@pytest.fixture(scope="module")
async def supplier_token(db_pool: asyncpg.Pool) -> str:
    """A live supplier session, opened through the store (no SMS gateway needed here)."""
    credit_code = "9132" + "".join(secrets.choice("0123456789") for _ in range(14))
    code, now = new_code(), datetime.now(UTC)
    digest = code_digest(login_code_secret(Settings()), credit_code, code)
    logins = SupplierLogins(db_pool)
    assert await logins.issue_code(credit_code, digest, now) is not None
    token = new_token()
    assert (await logins.sign_in(credit_code, digest, token, now)).session is not None
    return token


@pytest.mark.parametrize(("method", "path", "caller", "answer"), CASES, ids=[f"{m} {p} {c}" for m, p, c, _ in CASES])
async def test_a_caller_of_the_wrong_kind_is_refused_before_the_handler(
    api: httpx.AsyncClient,
    credentials: dict[str, Any],
    supplier_token: str,
    method: str,
    path: str,
    caller: str,
    answer: tuple[int, str],
) -> None:
    headers = {
        NONE: {},
        BANK_KEY: bearer(credentials["banks"]["ICBC"]),
        OPS_KEY: bearer(credentials["ops"]),
        SUPPLIER_TOKEN: bearer(supplier_token),
    }[caller]
    url = re.sub(r"\{[^}]+\}", "x", path)  # an id that could be one: only access decides
    response = await api.request(method, url, headers=headers, json={} if method == "POST" else None)
    status, code = answer
    if status == 303:
        assert (response.status_code, response.headers["location"]) == (303, code)
    else:
        assert_problem(response, status, code)


async def test_the_principal_is_looked_up_once_a_request(
    api: httpx.AsyncClient, credentials: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The router's dependency and the handler's parameter are one evaluation (FastAPI caches a
    dependency per request): one look-up of the key, whatever the handler takes."""
    looked_up: list[str | None] = []
    real = auth.authenticate

    async def counting(pool: asyncpg.Pool, raw_key: str | None) -> Any:
        looked_up.append(raw_key)
        return await real(pool, raw_key)

    monkeypatch.setattr(auth, "authenticate", counting)
    response = await api.get("/v1/applications", headers=bearer(credentials["banks"]["ICBC"]))
    assert response.status_code == 200, response.text
    assert looked_up == [credentials["banks"]["ICBC"]]
