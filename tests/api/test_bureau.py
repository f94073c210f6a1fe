"""The bureau's API forms and its page, over the real database without Temporal: the refusals of
`/v1/stats`, `/v1/stats/monthly` and the CSV export (422 validation_error, nothing else), the
export's bytes, and `/bureau/` behind its own sign-in — a session like the codec's, not the
codec's — showing exactly the figures `/v1/stats` answers."""

from __future__ import annotations

import csv
import io
import re
from datetime import datetime
from decimal import Decimal
from typing import Any

import asyncpg
import httpx
import pytest

from api.bureau import session
from domain.business_time import SHANGHAI
from domain.stages import Stage
from store.applications import ApplicationRepository
from store.seed import WUXI_BANKS, WUXI_DISTRICTS
from tests.store.factories import make_view
from tests.store.test_period_stats import loan

D = Decimal


def _ops(credentials: dict[str, Any]) -> dict[str, str]:
    return {"Authorization": f"Bearer {credentials['ops']}"}


def _bank(credentials: dict[str, Any]) -> dict[str, str]:
    return {"Authorization": f"Bearer {credentials['banks']['ICBC']}"}


@pytest.fixture(scope="module")
async def book(db_pool: asyncpg.Pool) -> None:
    """Two loans and an application waiting (this module's database)."""
    applications = ApplicationRepository(db_pool)
    for view in (
        loan(
            bank="ICBC",
            district="梁溪区",
            supplier=71,
            submitted="2026-11-02",
            approved="2026-11-03",
            paid_out="2026-11-04",
            amount="700000.00",
            repayments=(("2026-11-20", "100000.00"),),
        ),
        loan(
            bank="BOC",
            district="江阴市",
            supplier=72,
            submitted="2026-10-09",
            approved="2026-10-09",
            paid_out="2026-10-21",
            amount="123456.78",
        ),
        make_view(bank_code="ABC", district="宜兴市", supplier=73, stage=Stage.BANK_REVIEW),
    ):
        await applications.upsert_view(view, "e")


@pytest.mark.parametrize(
    "query",
    [
        "from=2026-13-01",
        "from=2026-11-1",
        "to=20261130",
        "from=1999-12-31",
        "to=2101-01-01",
        "from=2026-12-01&to=2026-11-30",
        "from=%00",
        "from=2026-02-30",
    ],
)
async def test_a_period_the_bureau_cannot_ask_for_is_422(
    api: httpx.AsyncClient, credentials: dict[str, Any], query: str
) -> None:
    for path in ("/v1/stats", "/v1/stats/export.csv"):
        answer = await api.get(f"{path}?{query}", headers=_ops(credentials))
        assert answer.status_code == 422, (path, query, answer.text)
        assert answer.headers["content-type"].startswith("application/problem+json")
        assert answer.json()["code"] == "validation_error"


@pytest.mark.parametrize(
    "query", ["from=2026-1", "to=2026-13", "from=2026-11&to=2026-10", "from=1999-12", "from=2000-01&to=2010-01"]
)
async def test_months_the_bureau_cannot_ask_for_are_422(
    api: httpx.AsyncClient, credentials: dict[str, Any], query: str
) -> None:
    answer = await api.get(f"/v1/stats/monthly?{query}", headers=_ops(credentials))
    assert answer.status_code == 422 and answer.json()["code"] == "validation_error", answer.text


async def test_the_statistics_are_for_operations_only(api: httpx.AsyncClient, credentials: dict[str, Any]) -> None:
    for path in ("/v1/stats?from=2026-11-01", "/v1/stats/monthly", "/v1/stats/export.csv"):
        assert (await api.get(path)).json()["code"] == "unauthenticated"
        forbidden = await api.get(path, headers=_bank(credentials))
        assert forbidden.status_code == 403 and forbidden.json()["code"] == "forbidden"


async def test_monthly_defaults_to_the_twelve_months_up_to_this_one(
    api: httpx.AsyncClient, credentials: dict[str, Any], book: None
) -> None:
    items = (await api.get("/v1/stats/monthly", headers=_ops(credentials))).json()["items"]
    this_month = datetime.now(SHANGHAI).strftime("%Y-%m")
    assert len(items) == 12 and items[-1]["month"] == this_month
    november = (await api.get("/v1/stats/monthly?from=2026-10&to=2026-11", headers=_ops(credentials))).json()
    assert november["items"] == [
        {
            "month": "2026-10",
            "credit_granted": "123456.78",
            "financing_disbursed": "123456.78",
            "repaid": "0.00",
            "loans": 1,
            "smes_served": 1,
        },
        {
            "month": "2026-11",
            "credit_granted": "700000.00",
            "financing_disbursed": "700000.00",
            "repaid": "100000.00",
            "loans": 1,
            "smes_served": 1,
        },
    ]


async def test_the_export_opens_in_excel_with_the_figures_of_stats(
    api: httpx.AsyncClient, credentials: dict[str, Any], book: None
) -> None:
    stats = (await api.get("/v1/stats?from=2026-11-01&to=2026-11-30", headers=_ops(credentials))).json()
    answer = await api.get("/v1/stats/export.csv?from=2026-11-01&to=2026-11-30", headers=_ops(credentials))
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "text/csv; charset=utf-8"
    assert 'filename="zcd-stats-2026-11-01_2026-11-30.csv"' in answer.headers["content-disposition"]
    assert answer.content.startswith(b"\xef\xbb\xbf")  # the BOM Excel needs for UTF-8
    assert b"\r\n" in answer.content
    rows = list(csv.reader(io.StringIO(answer.content.decode("utf-8-sig"))))
    assert rows[0] == ["维度", "银行代码", "名称", "授信金额(元)", "放款金额(元)", "在贷余额(元)", "放款笔数"]
    banks, districts = [r for r in rows[1:] if r[0] == "银行"], [r for r in rows[1:] if r[0] == "区域"]
    assert len(banks) == len(WUXI_BANKS) and len(rows) == 1 + len(banks) + len(districts)
    assert [r[2] for r in districts][: len(WUXI_DISTRICTS)] == [d.name for d in WUXI_DISTRICTS]
    for row, figures in zip(banks, stats["by_bank"], strict=True):
        assert row[1:] == [
            figures["bank_code"],
            figures["bank_name"],
            figures["credit_granted"],
            figures["financing_disbursed"],
            figures["outstanding"],
            str(figures["loans"]),
        ]
    icbc = next(r for r in banks if r[1] == "ICBC")
    assert icbc[3:] == ["700000.00", "700000.00", "600000.00", "1"]
    total = sum((D(r[5]) for r in banks), D("0.00"))
    assert total == D(stats["outstanding"]) == D("723456.78")  # BOC's October loan is still owed


async def test_the_page_sends_a_browser_without_a_session_to_sign_in(
    api: httpx.AsyncClient, credentials: dict[str, Any]
) -> None:
    for path in ("/bureau/", "/bureau/export.csv"):
        answer = await api.get(path)
        assert answer.status_code == 303 and answer.headers["location"] == "/bureau/login"
    assert (await api.get("/bureau")).headers["location"] == "/bureau/"
    login = await api.get("/bureau/login")
    assert login.status_code == 200 and "运营密钥" in login.text and 'name="ops_key"' in login.text
    for key, status, code in (("", 422, "validation_error"), ("nope", 401, "unauthenticated")):
        refused = await api.post("/bureau/login", data={"ops_key": key})
        assert (refused.status_code, refused.json()["code"]) == (status, code)
        assert "set-cookie" not in refused.headers
    bank = await api.post("/bureau/login", data={"ops_key": credentials["banks"]["ICBC"]})
    assert bank.status_code == 403 and bank.json()["code"] == "forbidden"
    # a bank key is refused on the page itself too, even as a Bearer key
    assert (await api.get("/bureau/", headers=_bank(credentials))).status_code == 403


def _figures(html: str) -> dict[str, str]:
    return dict(re.findall(r'data-figure="([^"]+)" data-value="([^"]*)"', html))


async def test_signed_in_the_page_shows_the_figures_of_stats(
    api: httpx.AsyncClient, credentials: dict[str, Any], book: None
) -> None:
    signed = await api.post("/bureau/login", data={"ops_key": credentials["ops"]})
    assert signed.status_code == 303 and signed.headers["location"] == "/bureau/"
    cookie = signed.headers["set-cookie"]
    for attribute in (f"{session.COOKIE}=", "HttpOnly", "Path=/bureau", "SameSite=strict", "Max-Age=28800"):
        assert attribute.lower() in cookie.lower()
    page = await api.get("/bureau/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    stats = (await api.get("/v1/stats", headers=_ops(credentials))).json()
    shown = _figures(page.text)
    assert shown == {
        "credit_granted": stats["credit_granted"],
        "financing_disbursed": stats["financing_disbursed"],
        "outstanding": stats["outstanding"],
        "smes_served": str(stats["smes_served"]),
        "disbursement_days.median": stats["disbursement_days"]["median"],
        "disbursement_days.within_7_working_days": stats["disbursement_days"]["within_7_working_days"],
    }
    assert "https://" not in page.text and "src=" not in page.text  # nothing is fetched from elsewhere
    for section in ("monthly", "funnel", "by-bank", "by-district", "days", "overdue", "stuck"):
        assert f'<section id="{section}">' in page.text
    # a period: the page's figures are those of /v1/stats for it; empty fields mean all time
    period = await api.get("/bureau/?from=2026-11-01&to=2026-11-30")
    stats = (await api.get("/v1/stats?from=2026-11-01&to=2026-11-30", headers=_ops(credentials))).json()
    assert _figures(period.text)["credit_granted"] == stats["credit_granted"] == "700000.00"
    assert _figures((await api.get("/bureau/?from=&to=")).text) == shown
    assert (await api.get("/bureau/?from=2026-12-01&to=2026-11-01")).json()["code"] == "validation_error"
    export = await api.get("/bureau/export.csv?from=2026-11-01&to=2026-11-30")
    assert export.status_code == 200 and export.content.startswith(b"\xef\xbb\xbf")
    # signing out ends it
    out = await api.post("/bureau/logout")
    assert out.status_code == 303 and out.headers["location"] == "/bureau/login"
    assert (await api.get("/bureau/")).status_code == 303


async def test_a_codec_session_is_no_bureau_session(api: httpx.AsyncClient, credentials: dict[str, Any]) -> None:
    opened = await api.post("/codec/session", headers=_ops(credentials))
    token = opened.cookies["zcd_codec_session"]
    api.cookies.clear()
    api.cookies.set(session.COOKIE, token, path="/bureau")
    assert (await api.get("/bureau/")).status_code == 303  # signed with another key: not a session here
    api.cookies.clear()
    signed = await api.post("/bureau/login", data={"ops_key": credentials["ops"]})
    bureau_token = signed.cookies[session.COOKIE]
    api.cookies.clear()
    api.cookies.set("zcd_codec_session", bureau_token, path="/codec")
    assert (await api.post("/codec/decode", json={"payloads": []})).status_code == 401
    api.cookies.clear()
