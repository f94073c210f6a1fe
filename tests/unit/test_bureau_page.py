"""The bureau's page from a dashboard (api/bureau/page.py): the figures with their exact values,
what needs a person linked to its workflow in the Temporal UI, names escaped."""

from __future__ import annotations

from datetime import UTC, date, datetime

from api.bureau.dashboard import Dashboard, shown_months
from api.bureau.page import dashboard_page
from domain.stages import Stage
from domain.statistics import Figures, Period
from store.applications import StuckApplication


def _dashboard() -> Dashboard:
    figures = Figures.model_validate(
        {
            "credit_granted": "470000000.00",
            "financing_disbursed": "310000000.00",
            "outstanding": "123456789.01",
            "smes_served": 93,
            "applications": {stage.value: 0 for stage in Stage},
            "by_bank": [],
            "by_district": [],
            "disbursement_days": {"median": "4.0", "within_7_working_days": "0.83"},
        }
    )
    stuck = StuckApplication(
        application_id="abc123",
        contract_no="WX-2026-<b>",
        bank_code="ICBC",
        district="梁溪区",
        stage=Stage.BANK_REVIEW,
        since=datetime(2026, 11, 20, tzinfo=UTC),
        deadline=None,
        needs_attention=True,
        reasons=["no decision from the bank within the review SLA"],
        working_days_in_stage=8,
    )
    return Dashboard(
        period=Period(date(2026, 1, 1), date(2026, 11, 30)),
        today=date(2026, 12, 2),
        figures=figures,
        months=[],
        funnel=[("submitted", 0)],
        day_buckets=[],
        overdue=[],
        stuck=[stuck],
        stuck_total=1,
        temporal_ui="http://127.0.0.1:8233/",
        namespace="default",
        operator="ops:bureau",
    )


def test_the_page_carries_the_exact_figures_and_links_each_process() -> None:
    html = dashboard_page(_dashboard())
    assert 'data-figure="credit_granted" data-value="470000000.00"' in html and "¥470,000,000.00" in html
    assert 'data-figure="disbursement_days.within_7_working_days" data-value="0.83"' in html and "83.0%" in html
    assert 'href="http://127.0.0.1:8233/namespaces/default/workflows/financing-abc123"' in html
    assert "WX-2026-&lt;b&gt;" in html
    assert "WX-2026-<b>" not in html
    assert "8 个工作日" in html
    assert 'value="2026-01-01"' in html and 'href="/bureau/export.csv?from=2026-01-01&amp;to=2026-11-30"' in html


def test_the_monthly_chart_shows_the_period_or_the_last_twelve_months() -> None:
    assert shown_months(None, date(2026, 12, 2)) == (date(2026, 1, 1), date(2026, 12, 1))
    assert shown_months(None, date(2027, 3, 31)) == (date(2026, 4, 1), date(2027, 3, 1))
    assert shown_months(Period(date(2026, 9, 15), date(2026, 11, 2)), date(2026, 12, 2)) == (
        date(2026, 9, 1),
        date(2026, 11, 1),
    )
    long = Period(date(2000, 1, 1), date(2026, 11, 30))
    assert shown_months(long, date(2026, 12, 2)) == (date(2016, 12, 1), date(2026, 11, 1))  # the last 120
