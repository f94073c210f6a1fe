"""The finance bureau's figures (ops): `GET /v1/stats` (all time or over a period), by month,
and the Excel-ready export (API.md "Operations and oversight", v1.1 "The finance bureau")."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response

from api import stats_csv
from api.auth import State, ops_principal
from api.figures import figures, requested_period, today
from api.problems import Problem, problem_responses
from domain.errors import ErrorCode
from domain.statistics import Figures, MonthlyFigures, PeriodProblem, month_range

router = APIRouter(
    tags=["operations"], responses=problem_responses(401, 403, 422), dependencies=[Depends(ops_principal)]
)

_FROM_DAY = "the period's first business date, YYYY-MM-DD (Asia/Shanghai); without it: since the first"
_TO_DAY = "the period's last business date, YYYY-MM-DD; outstanding is counted at its end; without it: today"
FromDay = Annotated[str | None, Query(alias="from", description=_FROM_DAY, examples=["2026-11-01"])]
ToDay = Annotated[str | None, Query(alias="to", description=_TO_DAY, examples=["2026-11-30"])]
_PERIOD_RULES = (
    "A period is a closed range of business dates (Asia/Shanghai): credit granted (amounts approved, "
    "counted on the day the application left the bank's review approved), financing disbursed, "
    "`loans` and SMEs served are those of its days, `outstanding` is the principal owed at the end "
    "of `to`, and `applications` counts the applications submitted in it by the stage each is in "
    "now. Without `from` and `to`: all time. `disbursement_days`: working days (State Council "
    "calendar) from submission to disbursement over the loans disbursed (in the period) — their "
    "median, one decimal place, and the share paid out within 7 working days, two places; null "
    "when there are none. 422 `validation_error` for a date not written YYYY-MM-DD, outside the "
    "years 2000–2100, or `from` after `to`."
)


@router.get(
    "/v1/stats",
    summary="The finance bureau's figures",
    description=(
        "Credit granted (授信), financing disbursed, principal outstanding and SMEs served — in "
        "total, per bank (every seeded bank, in seeded order) and per city/district — with the "
        "applications per stage and the days from submission to disbursement. " + _PERIOD_RULES
    ),
    response_model=Figures,
)
async def stats(state: State, first: FromDay = None, last: ToDay = None) -> Figures:
    return await figures(state, requested_period(first, last))


@router.get(
    "/v1/stats/monthly",
    summary="The finance bureau's figures by month",
    description=(
        "One item per month from `from` to `to` (YYYY-MM, both included; default: the twelve months "
        "up to this one), months with nothing included: credit granted and financing disbursed in "
        "the month, `repaid` (principal repaid in the month: treasury payments and the suppliers' own "
        "repayments; a recovery after a write-off is not), `loans` paid out and the `smes_served` "
        "they went to. 422 `validation_error` for a month not written YYYY-MM, outside 2000–2100, "
        "`from` after `to`, or more than 120 months."
    ),
    response_model=MonthlyFigures,
)
async def monthly(
    state: State,
    first: Annotated[str | None, Query(alias="from", description="first month, YYYY-MM", examples=["2026-01"])] = None,
    last: Annotated[str | None, Query(alias="to", description="last month, YYYY-MM", examples=["2026-12"])] = None,
) -> MonthlyFigures:
    try:
        chosen = month_range(first, last, today().date())
    except PeriodProblem as problem:
        raise Problem(ErrorCode.VALIDATION_ERROR, str(problem)) from None
    items = await state.repos.statistics.monthly(chosen[0], chosen[-1])
    return MonthlyFigures.model_validate({"items": items})


@router.get(
    "/v1/stats/export.csv",
    summary="The finance bureau's figures as a spreadsheet",
    description=(
        "The figures of `GET /v1/stats` (same `from` and `to`) as CSV that opens in Excel: UTF-8 "
        "with a byte-order mark, one row per bank and one per city/district — 维度 (银行 or 区域), "
        "银行代码, 名称, 授信金额(元), 放款金额(元), 在贷余额(元), 放款笔数 — amounts to the fen. " + _PERIOD_RULES
    ),
    response_class=Response,
    responses={200: {"description": "the figures, one row per bank and per district", "content": {"text/csv": {}}}},
)
async def export(state: State, first: FromDay = None, last: ToDay = None) -> Response:
    chosen = requested_period(first, last)
    return stats_csv.response(await figures(state, chosen), chosen)
