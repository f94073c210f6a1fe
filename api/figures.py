"""The finance bureau's figures for a requested period: what `GET /v1/stats` (and its export)
and the bureau's dashboard (api/bureau/) both answer with."""

from __future__ import annotations

from datetime import datetime

from api.problems import Problem
from api.state import AppState
from domain.business_time import SHANGHAI
from domain.errors import ErrorCode
from domain.state_council_calendar import state_council_calendar
from domain.statistics import Figures, Period, PeriodProblem, parse_day, period


def today() -> datetime:
    return datetime.now(SHANGHAI)


def requested_period(first: str | None, last: str | None) -> Period | None:
    """The period of a request's `from`/`to`, or a 422 problem."""
    try:
        return period(parse_day(first, "from"), parse_day(last, "to"), today().date())
    except PeriodProblem as problem:
        raise Problem(ErrorCode.VALIDATION_ERROR, str(problem)) from None


async def figures(state: AppState, chosen: Period | None) -> Figures:
    answer = await state.repos.statistics.figures(chosen, state_council_calendar())
    return Figures.model_validate(answer)
