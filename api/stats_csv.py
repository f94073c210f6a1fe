"""The bureau's figures as a CSV that opens in Excel (API.md v1.1): UTF-8 with a byte-order mark
(without it Excel reads the Chinese names as another encoding), CRLF line ends, one row per bank
and one per city/district, money to the fen as plain decimals."""

from __future__ import annotations

import csv
import io

from fastapi.responses import Response

from domain.money import money_str
from domain.statistics import Breakdown, Figures, Period

BOM = "\ufeff"
HEADER = ["维度", "银行代码", "名称", "授信金额(元)", "放款金额(元)", "在贷余额(元)", "放款笔数"]


def _row(scope: str, code: str, name: str, figures: Breakdown) -> list[str]:
    return [
        scope,
        code,
        name,
        money_str(figures.credit_granted),
        money_str(figures.financing_disbursed),
        money_str(figures.outstanding),
        str(figures.loans),
    ]


def render(figures: Figures) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(HEADER)
    for bank in figures.by_bank:
        writer.writerow(_row("银行", bank.bank_code, bank.bank_name, bank))
    for district in figures.by_district:
        writer.writerow(_row("区域", "", district.district, district))
    return BOM + out.getvalue()


def filename(chosen: Period | None) -> str:
    span = f"{chosen.first.isoformat()}_{chosen.last.isoformat()}" if chosen else "all-time"
    return f"zcd-stats-{span}.csv"


def response(figures: Figures, chosen: Period | None) -> Response:
    return Response(
        render(figures).encode("utf-8"),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename(chosen)}"'},
    )
