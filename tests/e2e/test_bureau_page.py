"""`/bureau/` in Debian's headless Chromium (issue 14): a person signs in with the ops key on
the sign-in page, lands on the dashboard at 1366×768, and reads the same figures `/v1/stats`
answers — the exact values and the text shown. Every request the page would send anywhere but
the API goes to the tripwire of test_docs_offline.py, which must see none. Screenshots of the
sign-in page and the dashboard (screen and full page) are kept in the test's tmp dir.

Skipped only where Chromium is not installed and this is not CI (`.ci/run` installs it)."""

from __future__ import annotations

import re
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from domain.application import AttentionItem
from domain.stages import Stage
from store.applications import ApplicationRepository
from store.principals import ensure_credentials, generate_credentials
from tests.e2e.browser import QUIET_FLAGS
from tests.e2e.devtools import browser_page
from tests.e2e.test_docs_offline import INTRANET_HOST, Tripwire, api_url, asked_by_page, chromium, tripwire
from tests.store.factories import make_view
from tests.store.test_period_stats import at, loan

__all__ = ["api_url", "chromium", "tripwire"]  # fixtures shared with the offline-docs module

pytestmark = pytest.mark.e2e

WIDTH, HEIGHT = 1366, 768
SECTIONS = ("monthly", "funnel", "by-bank", "by-district", "days", "overdue", "stuck")


async def _book(pool: asyncpg.Pool) -> None:
    """Loans of several banks, districts and months; one overdue, one waiting for a person."""
    applications = ApplicationRepository(pool)
    today = date.today()
    plan = [
        ("ICBC", "梁溪区", "700000.00", 120, 2),
        ("ABC", "江阴市", "320000.50", 95, 5),
        ("BOC", "宜兴市", "150000.00", 60, 9),
        ("CCB", "锡山区", "880000.00", 40, 1),
        ("WRCB", "惠山区", "45000.00", 20, 3),
        ("ICBC", "新吴区", "260000.00", 8, 6),
    ]
    for n, (bank, district, amount, ago, took) in enumerate(plan):
        submitted = today - timedelta(days=ago)
        paid = submitted + timedelta(days=took)
        repaid = ((str(paid + timedelta(days=5)), str((Decimal(amount) / 4).quantize(Decimal("0.01")))),)
        view = loan(
            bank=bank,
            district=district,
            supplier=200 + n,
            submitted=str(submitted),
            approved=str(submitted),
            paid_out=str(paid),
            amount=amount,
            repayments=repaid,
        )
        await applications.upsert_view(view, "e")
    late = loan(
        bank="BOCOM",
        district="滨湖区",
        supplier=300,
        submitted=str(today - timedelta(days=200)),
        approved=str(today - timedelta(days=199)),
        paid_out=str(today - timedelta(days=197)),
        amount="500000.00",
    )
    overdue = late.model_copy(
        update={
            "stage": Stage.OVERDUE,
            "maturity_date": today - timedelta(days=12),
            "penalty_due": Decimal("1234.56"),
            "supplier_name": "无锡某某科技有限公司",
            "version": late.version + 1,
        }
    )
    await applications.upsert_view(overdue, "e")
    waiting = make_view(
        bank_code="CMB",
        district="经开区",
        supplier=301,
        submitted_at=at(str(today - timedelta(days=14)), 9),
        needs_attention=True,
        attention_reasons=["no decision from the bank within the review SLA"],
        attention=[AttentionItem(key="deadline", reason="no decision from the bank within the review SLA")],
    )
    await applications.upsert_view(waiting, "e")


def _browser_args(api_port: str, wire: Tripwire) -> list[str]:
    return [
        *QUIET_FLAGS,
        "--lang=zh-CN",
        f"--host-resolver-rules=MAP {INTRANET_HOST} 127.0.0.1",
        f"--proxy-server=http://127.0.0.1:{wire.port}",
        f"--proxy-bypass-list={INTRANET_HOST}",
    ]


_SHOWN = """Object.fromEntries([...document.querySelectorAll('[data-figure]')].map(
  e => [e.dataset.figure, [e.dataset.value, e.querySelector('.shown').innerText]]))"""
_CHARTS = """Object.fromEntries([...document.querySelectorAll('section')].map(
  s => [s.id, {svg: s.querySelectorAll('svg').length, empty: s.querySelectorAll('[data-empty]').length,
               marks: s.querySelectorAll('svg rect[data-value]').length, rows: s.querySelectorAll('tr').length}]))"""


def _digits(text: str) -> str:
    return re.sub(r"[^0-9.]", "", text)


async def test_the_bureau_signs_in_and_reads_the_figures_of_stats(
    chromium: str, api_url: str, tripwire: Tripwire, tmp_path: Path, db_pool: asyncpg.Pool
) -> None:
    keys = generate_credentials(["ICBC"])
    await ensure_credentials(db_pool, keys)
    await _book(db_pool)
    port = api_url.rsplit(":", 1)[1]
    async with httpx.AsyncClient(base_url=api_url) as http:
        stats: dict[str, Any] = (await http.get("/v1/stats", headers={"Authorization": f"Bearer {keys['ops']}"})).json()

    async with browser_page(
        chromium, tmp_path / "profile", _browser_args(port, tripwire), width=WIDTH, height=HEIGHT
    ) as page:
        await page.goto(f"http://{INTRANET_HOST}:{port}/bureau/")
        await page.wait_for("location.pathname === '/bureau/login' && !!document.querySelector('input[name=ops_key]')")
        await page.screenshot(tmp_path / "bureau-login.png")
        await page.type_into("input[name=ops_key]", keys["ops"])
        await page.click("button[type=submit]")
        await page.wait_for(
            "location.pathname === '/bureau/' && document.querySelectorAll('[data-figure]').length == 6"
        )
        shown: dict[str, list[str]] = await page.evaluate(_SHOWN)
        sections: dict[str, dict[str, int]] = await page.evaluate(_CHARTS)
        page_width = await page.evaluate("document.documentElement.scrollWidth")
        headline_bottom = await page.evaluate("document.querySelector('.figures').getBoundingClientRect().bottom")
        screen = await page.screenshot(tmp_path / "bureau.png")
        full = await page.screenshot(tmp_path / "bureau-full.png", full_page=True)

    print(f"screenshots: {tmp_path / 'bureau-login.png'} {screen} {full}")
    days = stats["disbursement_days"]
    expected = {
        "credit_granted": stats["credit_granted"],
        "financing_disbursed": stats["financing_disbursed"],
        "outstanding": stats["outstanding"],
        "smes_served": str(stats["smes_served"]),
        "disbursement_days.median": days["median"],
        "disbursement_days.within_7_working_days": days["within_7_working_days"],
    }
    assert {key: value for key, (value, _) in shown.items()} == expected
    # what a person reads: the same amounts to the fen (¥ and thousands separators aside)
    for key in ("credit_granted", "financing_disbursed", "outstanding"):
        assert _digits(shown[key][1]) == stats[key], shown[key]
    assert shown["smes_served"][1] == f"{stats['smes_served']} 家"
    assert Decimal(stats["financing_disbursed"]) > 0 and stats["smes_served"] == 7
    # every chart has something to draw, and the lists show their rows
    for section in SECTIONS:
        assert section in sections, sections
    for chart in ("monthly", "funnel", "by-bank", "by-district", "days"):
        assert sections[chart]["svg"] == 1 and sections[chart]["empty"] == 0 and sections[chart]["marks"] > 0, chart
    assert sections["overdue"]["rows"] == 2 and sections["stuck"]["rows"] >= 2  # a header and the loan
    # readable on a 1366×768 office screen: no sideways scrolling, the headline above the fold
    assert page_width <= WIDTH and headline_bottom < HEIGHT / 3
    assert screen.stat().st_size > 20_000 and full.stat().st_size > screen.stat().st_size
    assert asked_by_page(tripwire.requests) == [], f"the page asked the outside world: {tripwire.requests}"
