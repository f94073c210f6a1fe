"""What the bureau's page shows, gathered in one place: the figures of `/v1/stats` (all time or
the chosen period), the months, the stage funnel, the days to disbursement, the overdue book
and what needs a person — each a read of the platform's records (no Temporal call)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from api.state import AppState
from domain import workflow_api as names
from domain.business_time import SHANGHAI
from domain.state_council_calendar import state_council_calendar
from domain.statistics import (
    MAX_MONTHS,
    Figures,
    MonthFigures,
    Period,
    day_buckets,
    months,
    next_month,
)
from store.applications import StuckApplication

SHOWN_STUCK = 100  # the page lists this many of what needs a person (the count is of all)


@dataclass(frozen=True)
class Dashboard:
    period: Period | None
    today: date
    figures: Figures
    months: list[MonthFigures]
    funnel: list[tuple[str, int]]
    day_buckets: list[tuple[str, int]]
    overdue: list[dict[str, Any]]
    stuck: list[StuckApplication]
    stuck_total: int
    temporal_ui: str
    namespace: str
    operator: str

    def workflow_link(self, application_id: str) -> str:
        """The application's workflow in the Temporal UI (the UI's origin is the codec's CORS
        origin: in `zcd run` its proxy, in docker compose the UI's published port)."""
        workflow_id = names.workflow_id(application_id)
        return f"{self.temporal_ui.rstrip('/')}/namespaces/{self.namespace}/workflows/{workflow_id}"


def shown_months(period: Period | None, today: date) -> tuple[date, date]:
    """The months of the monthly chart: the period's (its last 120 at most), else the twelve up
    to this one."""
    if period is None:
        last = today.replace(day=1)
        return next_month(last.replace(year=last.year - 1)), last
    span = months(period.first, period.last)[-MAX_MONTHS:]
    return span[0], span[-1]


async def collect(state: AppState, period: Period | None, operator: str) -> Dashboard:
    now = datetime.now(SHANGHAI)
    statistics = state.repos.statistics
    calendar = state_council_calendar()
    figures = Figures.model_validate(await statistics.figures(period, calendar))
    first, last = shown_months(period, now.date())
    monthly = [MonthFigures.model_validate(item) for item in await statistics.monthly(first, last)]
    days = await statistics.disbursement_days(period, calendar)
    stuck = await state.repos.applications.stuck(now)
    return Dashboard(
        period=period,
        today=now.date(),
        figures=figures,
        months=monthly,
        funnel=await statistics.funnel(period),
        day_buckets=day_buckets(days),
        overdue=await statistics.overdue_book(),
        stuck=stuck[:SHOWN_STUCK],
        stuck_total=len(stuck),
        temporal_ui=state.settings.codec_cors_origin,
        namespace=state.settings.temporal_namespace,
        operator=operator,
    )
