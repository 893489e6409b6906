"""The approval page's small price chart: inline SVG, no script, no style attribute.

The page runs under a CSP that allows no script and only one hashed stylesheet, so the chart is
plain SVG markup with presentation attributes (``fill``, ``stroke``), which CSP does not govern.
It draws the recent price line and the order's price levels (limit, trigger) as labelled dashed
lines, with the price axis stretched to include them: the human sees where the order sits.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, tzinfo
from decimal import Decimal

from lb_mcp.server.charts.series import money

W, H, LEFT, RIGHT, TOP, BOTTOM = 560, 200, 58, 96, 10, 26
LINE, LIMIT, TRIGGER = "#1f77b4", "#d62728", "#ff7f0e"


@dataclass(frozen=True)
class Level:
    label: str  # "limit" or "trigger"
    price: Decimal
    color: str


def price_svg(
    points: Sequence[tuple[datetime, Decimal]],
    levels: Sequence[Level],
    *,
    currency: str,
    zone: tzinfo,
    zone_label: str,
) -> str:
    """An ``<svg id="price-chart">`` of ``points`` (UTC times, shown in ``zone``)."""
    if len(points) < 2:
        return ""
    prices = [p for _, p in points] + [lv.price for lv in levels]
    lo, hi = min(prices), max(prices)
    pad = (hi - lo) * Decimal("0.08") or max(abs(hi) * Decimal("0.01"), Decimal("0.01"))
    lo, hi = lo - pad, hi + pad
    plot_w, plot_h = W - LEFT - RIGHT, H - TOP - BOTTOM
    t0, t1 = points[0][0].timestamp(), points[-1][0].timestamp()
    span = (t1 - t0) or 1.0

    def x(t: datetime) -> float:
        return LEFT + (t.timestamp() - t0) / span * plot_w

    def y(p: Decimal) -> float:
        return TOP + float((hi - p) / (hi - lo)) * plot_h

    out = [
        f'<svg id="price-chart" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {W} {H}" '
        f'width="100%" role="img" aria-label="recent price and the order\'s price">',
        f'<rect x="{LEFT}" y="{TOP}" width="{plot_w}" height="{plot_h}" fill="#fafafa" '
        'stroke="#dddddd"/>',
    ]
    for frac in (0.0, 0.5, 1.0):
        p = hi - (hi - lo) * Decimal(str(frac))
        out.append(_text(LEFT - 4, y(p) + 4, money(p), "end"))
    first, last = points[0][0].astimezone(zone), points[-1][0].astimezone(zone)
    out.append(_text(LEFT, H - 8, first.strftime("%H:%M"), "start"))
    out.append(_text(LEFT + plot_w, H - 8, last.strftime("%H:%M"), "end"))
    out.append(_text(LEFT + plot_w / 2, H - 8, html.escape(zone_label), "middle"))
    path = " ".join(f"{x(t):.1f},{y(p):.1f}" for t, p in points)
    out.append(
        f'<polyline id="price-line" points="{path}" fill="none" stroke="{LINE}" '
        'stroke-width="1.6"/>'
    )
    for lv in levels:
        yy = y(lv.price)
        out.append(
            f'<line class="level" data-level="{html.escape(lv.label)}" x1="{LEFT}" '
            f'x2="{LEFT + plot_w}" y1="{yy:.1f}" y2="{yy:.1f}" stroke="{lv.color}" '
            'stroke-width="2" stroke-dasharray="6 4"/>'
        )
        label = f"{lv.label} {money(lv.price)} {currency}".strip()
        out.append(_text(LEFT + plot_w + 4, yy + 4, html.escape(label), "start", lv.color))
    out.append("</svg>")
    return "".join(out)


def _text(x: float, y: float, value: str, anchor: str, color: str = "#555555") -> str:
    return (
        f'<text x="{x:.1f}" y="{y:.1f}" font-size="11" font-family="sans-serif" '
        f'text-anchor="{anchor}" fill="{color}">{value}</text>'
    )


__all__ = ["LIMIT", "TRIGGER", "Level", "price_svg"]
