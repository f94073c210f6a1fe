"""The bureau's SVG charts (api/bureau/charts.py): well-formed, proportional, labelled, escaped,
and saying 暂无数据 when there is nothing to draw."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from decimal import Decimal

from api.bureau import charts
from api.bureau.charts import EMPTY, Series

D = Decimal
SVG = "{http://www.w3.org/2000/svg}"


def _rects(svg: str) -> list[ET.Element]:
    return [r for r in ET.fromstring(svg).iter(f"{SVG}rect") if "data-value" in r.attrib]


def test_axis_tops_are_round() -> None:
    assert charts.nice_top(D("3500000.00")) == D("4000000")
    assert charts.nice_top(D("4000000.00")) == D("4000000")
    assert charts.nice_top(D("4000000.01")) == D("8000000")
    assert charts.nice_top(D("123.45")) == D("200")
    assert charts.nice_top(D("0")) == D("4")
    assert charts.nice_top(D("3"), whole=True) == D("4")  # counts: no fractional steps


def test_amounts_as_people_read_them() -> None:
    assert charts.yuan(D("470000000")) == "¥470,000,000.00"
    assert charts.wan(D("3100000.00")) == "310.00万"
    assert charts.wan(D("12345.67")) == "1.23万"
    assert charts.px(D("12.04")) == "12" and charts.px(D("12.05")) == "12.1"


def test_grouped_bars_are_proportional_to_the_money() -> None:
    svg = charts.grouped_bars(
        ["26-10", "26-11"],
        [
            Series("授信", [D("1000000.00"), D("250000.00")], "#000"),
            Series("放款", [D("0.00"), D("500000.00")], "#111"),
        ],
        label="按月",
    )
    rects = _rects(svg)
    assert [(r.get("data-category"), r.get("data-series"), r.get("data-value")) for r in rects] == [
        ("26-10", "授信", "1000000.00"),
        ("26-10", "放款", "0.00"),
        ("26-11", "授信", "250000.00"),
        ("26-11", "放款", "500000.00"),
    ]
    heights = [D(r.get("height") or "0") for r in rects]
    assert heights[1] == 0 and heights[0] == 2 * heights[3]
    assert abs(heights[0] - 4 * heights[2]) <= D("0.2")  # drawn to a tenth of a pixel
    assert "100.00万" in svg  # an axis tick in 万元


def test_horizontal_bars_label_every_row_and_escape_names() -> None:
    svg = charts.horizontal_bars(
        ["工商<银行>", "农业银行"],
        [Series("授信", [D("10000.00"), D("0.00")], "#000"), Series("放款", [D("5000.00"), D("0.00")], "#111")],
        label="各银行",
    )
    root = ET.fromstring(svg)  # well-formed: the name's < > were escaped
    texts = [t.text for t in root.iter(f"{SVG}text")]
    assert "工商<银行>" in texts and "农业银行" in texts
    assert "1.00万 / 0.50万" in texts  # one label per row with both values
    widths = {f"{r.get('data-category')}{r.get('data-series')}": D(r.get("width") or "0") for r in _rects(svg)}
    assert widths["工商<银行>授信"] == 2 * widths["工商<银行>放款"] and widths["农业银行授信"] == 0


def test_the_histogram_marks_the_target() -> None:
    buckets = [
        ("0", 1),
        ("1", 0),
        ("2", 3),
        ("3", 0),
        ("4", 0),
        ("5", 0),
        ("6", 0),
        ("7", 0),
        ("8", 2),
        ("9", 0),
        ("10+", 1),
    ]
    svg = charts.histogram(buckets, target=7, label="放款用时")
    colors = {r.get("data-category"): r.get("fill") for r in _rects(svg)}
    assert colors["2"] == colors["7"] != colors["8"] == colors["10+"]  # within the target, then beyond
    assert "目标 7 个工作日" in svg
    ET.fromstring(svg)


def test_the_funnel_shows_conversions() -> None:
    svg = charts.funnel([("提交申请", 8), ("银行批准授信", 6), ("放款", 3)], label="漏斗")
    assert "6 笔（转化 75.0%）" in svg and "3 笔（转化 50.0%）" in svg
    assert charts.conversion(1, 3) == "33.3%" and charts.conversion(0, 0) == "—"


def test_nothing_to_draw_says_so() -> None:
    empty = [
        charts.grouped_bars(["26-11"], [Series("授信", [D("0.00")], "#000")], label="a"),
        charts.horizontal_bars(["x"], [Series("授信", [D("0.00")], "#000")], label="b"),
        charts.histogram([("0", 0)], target=7, label="c"),
        charts.funnel([("提交申请", 0)], label="d"),
    ]
    for svg in empty:
        assert EMPTY in svg and 'data-empty="true"' in svg and not _rects(svg)
        ET.fromstring(svg)


def test_no_float_reaches_the_drawing() -> None:
    """Coordinates are Decimal written to a tenth: no binary-fraction noise like 0.30000000000000004."""
    svg = charts.grouped_bars([str(n) for n in range(12)], [Series("授信", [D("333333.33")] * 12, "#000")], label="x")
    numbers = re.findall(r'(?:x|y|width|height)="([0-9.\-]+)"', svg)
    assert numbers and all(len(n.partition(".")[2]) <= 1 for n in numbers)
