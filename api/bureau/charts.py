"""The bureau's charts as SVG written here, on the server: no script, no CDN, nothing to fetch.

Each function takes the figures and returns an `<svg>` element to put in the page. Geometry is
computed in `Decimal` (money is never a float here either) and written to a tenth of a pixel.
Labels are escaped. A chart with nothing to draw says so (暂无数据) instead of drawing an axis
over nothing.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

TENTH = Decimal("0.1")
WAN = Decimal(10000)
EMPTY = "暂无数据"
PALETTE = ("#2f6fb0", "#e08a1e", "#3a9a5b", "#b04a4a", "#7a5ab0")


@dataclass(frozen=True)
class Series:
    name: str
    values: Sequence[Decimal]
    color: str


def px(value: Decimal | int) -> str:
    """A coordinate to a tenth of a pixel ("12.5"; "12" for a whole one)."""
    rounded = Decimal(value).quantize(TENTH, rounding=ROUND_HALF_UP)
    return str(rounded.to_integral_value()) if rounded == rounded.to_integral_value() else str(rounded)


def esc(text: str) -> str:
    return html.escape(text, quote=True)


def yuan(amount: Decimal) -> str:
    """¥1,234,567.89 — to the fen."""
    return f"¥{amount.quantize(Decimal('0.01'), rounding=ROUND_HALF_UP):,}"


def wan(amount: Decimal) -> str:
    """An amount in 万元 with two places: 123.46万."""
    return f"{(amount / WAN).quantize(Decimal('0.01'), rounding=ROUND_HALF_UP):,}万"


def nice_top(largest: Decimal, ticks: int = 4, *, whole: bool = False) -> Decimal:
    """The top of an axis of `ticks` equal steps of 1, 2 or 5 × 10ⁿ that holds `largest`
    (`whole`: steps of at least 1, for counts)."""
    if largest <= 0:
        return Decimal(ticks)
    raw = largest / ticks
    if whole and raw <= 1:
        return Decimal(ticks)
    base = Decimal(10) ** raw.adjusted()
    step = next(f * base for f in (Decimal(1), Decimal(2), Decimal(5), Decimal(10)) if raw <= f * base)
    return step * ticks


def _svg(width: int, height: int, label: str, body: str) -> str:
    return (
        f'<svg class="chart" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}" role="img" aria-label="{esc(label)}">'
        f"<title>{esc(label)}</title>{body}</svg>"
    )


def _empty(width: int, height: int, label: str) -> str:
    text = (
        f'<text x="{width // 2}" y="{height // 2}" text-anchor="middle" class="empty" data-empty="true">{EMPTY}</text>'
    )
    return _svg(width, height, label, text)


def _legend(series: Sequence[Series], x: int, y: int) -> str:
    parts, at = [], x
    for s in series:
        parts.append(f'<rect x="{at}" y="{y - 10}" width="12" height="12" fill="{s.color}"/>')
        parts.append(f'<text x="{at + 16}" y="{y}" class="legend">{esc(s.name)}</text>')
        at += 24 + 14 * len(s.name)
    return "".join(parts)


def grouped_bars(
    categories: Sequence[str],
    series: Sequence[Series],
    *,
    label: str,
    width: int = 640,
    height: int = 300,
    in_wan: bool = True,
) -> str:
    """Vertical bars, one group per category (e.g. month), one bar per series; axis in 万元."""
    values = [v for s in series for v in s.values]
    if not categories or not any(v > 0 for v in values):
        return _empty(width, height, label)
    left, right, top, bottom = 70, 10, 34, 40
    plot_w, plot_h = Decimal(width - left - right), Decimal(height - top - bottom)
    axis_top = nice_top(max(values))
    parts = [_legend(series, left, 16)]
    for tick in range(5):
        value = axis_top * tick / 4
        y = top + plot_h - plot_h * tick / 4
        shown = wan(value) if in_wan else f"{value.normalize():f}"
        parts.append(f'<line x1="{left}" y1="{px(y)}" x2="{width - right}" y2="{px(y)}" class="grid"/>')
        parts.append(f'<text x="{left - 6}" y="{px(y + 4)}" text-anchor="end" class="tick">{esc(shown)}</text>')
    group_w = plot_w / len(categories)
    bar_w = group_w * Decimal("0.8") / len(series)
    for i, category in enumerate(categories):
        x0 = left + group_w * i + group_w * Decimal("0.1")
        for j, s in enumerate(series):
            value = s.values[i]
            h = plot_h * value / axis_top
            x = x0 + bar_w * j
            parts.append(
                f'<rect x="{px(x)}" y="{px(top + plot_h - h)}" width="{px(bar_w)}" height="{px(h)}" '
                f'fill="{s.color}" data-series="{esc(s.name)}" data-category="{esc(category)}" '
                f'data-value="{value}"><title>{esc(category)} {esc(s.name)} {esc(yuan(value))}</title></rect>'
            )
        parts.append(
            f'<text x="{px(x0 + group_w * Decimal("0.4"))}" y="{height - bottom + 16}" text-anchor="middle" '
            f'class="tick">{esc(category)}</text>'
        )
    return _svg(width, height, label, "".join(parts))


def horizontal_bars(
    labels: Sequence[str],
    series: Sequence[Series],
    *,
    label: str,
    width: int = 640,
    row_height: int = 22,
) -> str:
    """One row per label (a bank, a district) with a bar per series and its value in 万元."""
    height = 30 + row_height * max(len(labels), 1) + 10
    values = [v for s in series for v in s.values]
    if not labels or not any(v > 0 for v in values):
        return _empty(width, max(height, 120), label)
    left, top = 150, 30
    value_w = 40 + 62 * len(series)  # one label per row: every series' value, in 万元
    plot_w = Decimal(width - left - value_w)
    largest = max(values)
    bar_h = Decimal(row_height - 6) / len(series)
    parts = [_legend(series, left, 16)]
    for i, name in enumerate(labels):
        y0 = Decimal(top + row_height * i)
        parts.append(
            f'<text x="{left - 6}" y="{px(y0 + Decimal(row_height) / 2 + 2)}" text-anchor="end" '
            f'class="tick">{esc(name)}</text>'
        )
        row = [s.values[i] for s in series]
        for j, s in enumerate(series):
            value = row[j]
            w = plot_w * value / largest
            y = y0 + 2 + bar_h * j
            parts.append(
                f'<rect x="{left}" y="{px(y)}" width="{px(w)}" height="{px(bar_h - 1)}" fill="{s.color}" '
                f'data-series="{esc(s.name)}" data-category="{esc(name)}" data-value="{value}">'
                f"<title>{esc(name)} {esc(s.name)} {esc(yuan(value))}</title></rect>"
            )
        if any(v > 0 for v in row):
            longest = plot_w * max(row) / largest
            text = " / ".join(wan(v) for v in row)
            parts.append(
                f'<text x="{px(left + longest + 6)}" y="{px(y0 + Decimal(row_height) / 2 + 2)}" '
                f'class="value">{esc(text)}</text>'
            )
    return _svg(width, height, label, "".join(parts))


def histogram(
    buckets: Sequence[tuple[str, int]],
    *,
    target: int,
    label: str,
    width: int = 640,
    height: int = 240,
) -> str:
    """Loans per number of working days to disbursement; bars within `target` days in green,
    beyond it in red, and the target drawn as a line."""
    if not any(count for _, count in buckets):
        return _empty(width, height, label)
    left, right, top, bottom = 44, 10, 24, 40
    plot_w, plot_h = Decimal(width - left - right), Decimal(height - top - bottom)
    axis_top = nice_top(Decimal(max(count for _, count in buckets)), whole=True)
    parts = []
    for tick in range(5):
        value = axis_top * tick / 4
        y = top + plot_h - plot_h * tick / 4
        parts.append(f'<line x1="{left}" y1="{px(y)}" x2="{width - right}" y2="{px(y)}" class="grid"/>')
        parts.append(
            f'<text x="{left - 6}" y="{px(y + 4)}" text-anchor="end" class="tick">{value.normalize():f}</text>'
        )
    slot = plot_w / len(buckets)
    for i, (name, count) in enumerate(buckets):
        h = plot_h * count / axis_top
        x = left + slot * i + slot * Decimal("0.15")
        color = PALETTE[2] if i <= target else PALETTE[3]
        parts.append(
            f'<rect x="{px(x)}" y="{px(top + plot_h - h)}" width="{px(slot * Decimal("0.7"))}" height="{px(h)}" '
            f'fill="{color}" data-category="{esc(name)}" data-value="{count}"><title>{esc(name)} 个工作日：'
            f"{count} 笔</title></rect>"
        )
        if count:
            parts.append(
                f'<text x="{px(x + slot * Decimal("0.35"))}" y="{px(top + plot_h - h - 4)}" text-anchor="middle" '
                f'class="value">{count}</text>'
            )
        parts.append(
            f'<text x="{px(x + slot * Decimal("0.35"))}" y="{height - bottom + 16}" text-anchor="middle" '
            f'class="tick">{esc(name)}</text>'
        )
    line_x = left + slot * (target + 1)
    parts.append(
        f'<line x1="{px(line_x)}" y1="{top - 6}" x2="{px(line_x)}" y2="{px(top + plot_h)}" class="target"/>'
        f'<text x="{px(line_x - 4)}" y="{top + 6}" text-anchor="end" class="target-label">目标 {target} 个工作日</text>'
        f'<text x="{px(left + plot_w / 2)}" y="{height - 6}" text-anchor="middle" class="tick">'
        "从申请到放款的工作日数</text>"
    )
    return _svg(width, height, label, "".join(parts))


def conversion(count: int, previous: int) -> str:
    """A step's share of the step before, as a percentage with one place ("83.3%")."""
    if previous == 0:
        return "—"
    share = (Decimal(count) * 100 / Decimal(previous)).quantize(TENTH, rounding=ROUND_HALF_UP)
    return f"{share}%"


def funnel(steps: Sequence[tuple[str, int]], *, label: str, width: int = 640, row_height: int = 40) -> str:
    """The stage funnel: one centred bar per step, as wide as its count, with the conversion
    from the step before."""
    height = row_height * max(len(steps), 1) + 10
    if not steps or steps[0][1] == 0:
        return _empty(width, max(height, 120), label)
    left, right = 120, 150
    plot_w = Decimal(width - left - right)
    largest = Decimal(max(count for _, count in steps))
    parts = []
    previous = None
    for i, (name, count) in enumerate(steps):
        w = max(plot_w * count / largest, Decimal(2))
        x = left + (plot_w - w) / 2
        y = Decimal(5 + row_height * i)
        parts.append(
            f'<rect x="{px(x)}" y="{px(y)}" width="{px(w)}" height="{row_height - 8}" '
            f'fill="{PALETTE[0]}" opacity="{px(Decimal(1) - Decimal(i) / 10)}" data-category="{esc(name)}" '
            f'data-value="{count}"><title>{esc(name)}：{count}</title></rect>'
        )
        parts.append(
            f'<text x="{left - 8}" y="{px(y + Decimal(row_height) / 2)}" text-anchor="end" class="tick">'
            f"{esc(name)}</text>"
        )
        step_text = f"{count} 笔" + (f"（转化 {conversion(count, previous)}）" if previous is not None else "")
        parts.append(
            f'<text x="{width - right + 8}" y="{px(y + Decimal(row_height) / 2)}" class="value">{esc(step_text)}</text>'
        )
        previous = count
    return _svg(width, height, label, "".join(parts))
