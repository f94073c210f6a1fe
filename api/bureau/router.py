"""`/bureau/`: the finance bureau's dashboard, served by the API behind an ops sign-in (API.md
v1.1). The page, its CSV export and the sign-in; the figures are `/v1/stats`'s."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from api import stats_csv
from api.audit import record
from api.auth import OPS_KEY_FORM, State, ops_key_from_form
from api.bureau import dashboard, page, session
from api.figures import figures, requested_period
from api.problems import problem_responses

# the dashboard and its export: a signed-in operator (a browser without a session is sent to sign in)
pages = APIRouter(prefix="/bureau", tags=["bureau"], dependencies=[Depends(session.operator)])
# the way in: the sign-in page and form (the ops key it posts is checked there), signing out
public = APIRouter(prefix="/bureau", tags=["bureau"])

_HTML: dict[str, Any] = {"content": {"text/html": {}}}
_TO_LOGIN: dict[int | str, dict[str, Any]] = {
    303: {"description": "not signed in: to the sign-in page (`/bureau/login`)"}
}
_SIGNED_IN: dict[int | str, dict[str, Any]] = {
    303: {"description": "signed in: to `/bureau/`, with the session cookie"}
}
_DAY = "a business date YYYY-MM-DD; empty or absent: open-ended (both absent: all time)"
PageDay = Annotated[str | None, Query(description=_DAY, examples=["2026-11-01"])]


def _day(value: str | None) -> str | None:
    return value or None  # the page's date fields send `from=` when left empty


@public.get(
    "",
    summary="The bureau's dashboard (without the slash)",
    description="Answers 303 to `/bureau/`.",
    responses={303: {"description": "to `/bureau/`"}},
    response_class=RedirectResponse,
    status_code=303,
)
async def without_slash() -> RedirectResponse:
    return RedirectResponse("/bureau/", status_code=303)


@pages.get(
    "/",
    summary="The bureau's dashboard",
    description=(
        "An HTML page in Chinese for the finance bureau: the figures of `GET /v1/stats` (all time, "
        "or the period `from`..`to`, as there), charts by month (credit granted, disbursed, principal "
        "repaid), by bank and by city/district, the stage funnel with its conversions, the working "
        "days from application to disbursement against the 7-day target, the overdue book, and what "
        "needs a person, each linked to its workflow in the Temporal UI. Behind an ops sign-in: a "
        "bureau session cookie (`/bureau/login`) or the ops Bearer key; without either, 303 to the "
        "sign-in page. Charts are SVG drawn by the server: the page loads nothing from elsewhere."
    ),
    response_class=HTMLResponse,
    responses={200: _HTML, **_TO_LOGIN, **problem_responses(401, 403, 422)},
)
async def show(
    who: session.Operator,
    state: State,
    first: Annotated[str | None, Query(alias="from", description=_DAY)] = None,
    last: Annotated[str | None, Query(alias="to", description=_DAY)] = None,
) -> Response:
    chosen = requested_period(_day(first), _day(last))
    shown = await dashboard.collect(state, chosen, who.name)
    return HTMLResponse(page.dashboard_page(shown))


@pages.get(
    "/export.csv",
    summary="The bureau's figures as a spreadsheet (signed in)",
    description=(
        "`GET /v1/stats/export.csv` for a signed-in browser: the same CSV (UTF-8 with BOM, one row "
        "per bank and per city/district) for the same `from` and `to`; 303 to the sign-in page "
        "without a session."
    ),
    response_class=Response,
    responses={200: {"content": {"text/csv": {}}}, **_TO_LOGIN, **problem_responses(401, 403, 422)},
)
async def export(
    state: State,
    first: Annotated[str | None, Query(alias="from", description=_DAY)] = None,
    last: Annotated[str | None, Query(alias="to", description=_DAY)] = None,
) -> Response:
    chosen = requested_period(_day(first), _day(last))
    return stats_csv.response(await figures(state, chosen), chosen)


@public.get(
    "/login",
    summary="The bureau's sign-in page",
    description="A form for the ops key; it posts to `/bureau/login`.",
    response_class=HTMLResponse,
    responses={200: _HTML},
)
async def login_page() -> HTMLResponse:
    return HTMLResponse(page.login_page())


@public.post(
    "/login",
    summary="Sign in to the bureau's dashboard",
    description=(
        "The sign-in form's target (`ops_key`, form-encoded): opens a bureau session (an HttpOnly, "
        "SameSite=Strict cookie for `/bureau`, 8 hours, signed like the codec's session but with a "
        "key of its own; audited as `bureau.session`) and answers 303 to `/bureau/`. An unknown key: "
        "401 `unauthenticated`; a bank key: 403 `forbidden`; no key: 422 `validation_error`."
    ),
    openapi_extra=OPS_KEY_FORM,
    status_code=303,
    response_class=RedirectResponse,
    responses={
        303: {"description": "signed in: to `/bureau/`, with the session cookie"},
        **problem_responses(401, 403, 422),
    },
)
async def login(request: Request, state: State) -> Response:
    who = await ops_key_from_form(request, state, "the bureau's dashboard is for operations staff")
    token, expires_at = session.new_session(state.settings, who)
    await record(state, who.name, "bureau.session", None, via="login form", expires_at=expires_at)
    answer = RedirectResponse("/bureau/", status_code=303)
    session.set_cookie(answer, request, token)
    return answer


@public.post(
    "/logout",
    summary="Sign out of the bureau's dashboard",
    description="Clears this browser's bureau session cookie; 303 to the sign-in page.",
    status_code=303,
    response_class=RedirectResponse,
    responses={303: {"description": "signed out: to `/bureau/login`"}},
)
async def logout(request: Request) -> Response:
    answer = RedirectResponse(session.SIGN_IN_PAGE, status_code=303)
    session.clear_cookie(answer, request)
    return answer
