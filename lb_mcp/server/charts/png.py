"""PNG charts drawn with matplotlib (Agg), imported on first use only.

``lb-mcp serve`` must start as fast without charts as before, so nothing here imports matplotlib
at module level. Charts are 800x450 px: readable inline in a chat at their natural size. The x
axis is the bar index (no gaps over nights and weekends) labelled in the exchange's local time;
the price axis is in the instrument's currency. Each render also reports where the price axes
sit in the picture and their limits, so a caller (and the tests) can map prices to pixels.
"""

from __future__ import annotations

import io
import threading
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from lb_mcp.server.charts.series import PortfolioSeries, PriceSeries

WIDTH_PX, HEIGHT_PX, DPI = 800, 450, 100
UP, DOWN, LINE, GRID = "#26a69a", "#ef5350", "#1f77b4", "#e6e6e6"
# pyplot's global state is not thread-safe and tools may render concurrently in worker threads.
_LOCK = threading.Lock()


@dataclass(frozen=True)
class Chart:
    png: bytes
    width: int
    height: int
    price_box: tuple[float, float, float, float] | None  # left, top, right, bottom (pixels)
    price_limits: tuple[float, float] | None  # bottom, top of the price axis
    x_labels: tuple[str, ...] = ()  # the time axis' tick labels, exchange-local


def _figure() -> tuple[Any, Any]:
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib.figure import Figure

    fig = Figure(figsize=(WIDTH_PX / DPI, HEIGHT_PX / DPI), dpi=DPI)
    return fig, matplotlib


def _box(fig: Any, ax: Any) -> tuple[float, float, float, float]:
    x0, y0, x1, y1 = ax.get_window_extent().extents
    height = fig.bbox.height
    return (float(x0), float(height - y1), float(x1), float(height - y0))


def _save(fig: Any, price_ax: Any | None, x_labels: tuple[str, ...] = ()) -> Chart:
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    canvas = FigureCanvasAgg(fig)
    canvas.draw()  # type: ignore[no-untyped-call]
    box = _box(fig, price_ax) if price_ax is not None else None
    limits = tuple(float(v) for v in price_ax.get_ylim()) if price_ax is not None else None
    out = io.BytesIO()
    # No bbox_inches="tight": it would move the axes after we measured them.
    fig.savefig(out, format="png", dpi=DPI)
    return Chart(out.getvalue(), WIDTH_PX, HEIGHT_PX, box, limits, x_labels)  # type: ignore[arg-type]


def _ticks(ax: Any, series: PriceSeries, count: int = 6) -> None:
    n = len(series.bars)
    step = max(1, n // count)
    idx = list(range(0, n, step))
    fmt = (
        "%H:%M"
        if series.is_line
        else ("%m-%d %H:%M" if series.period.endswith("m") else "%Y-%m-%d")
    )
    ax.set_xticks(idx)
    ax.set_xticklabels([series.bars[i].at.strftime(fmt) for i in idx], fontsize=9)
    ax.set_xlim(-0.75, n - 0.25)


def render_price(series: PriceSeries) -> Chart:
    """Candles with a volume panel, or an intraday line with volume."""
    with _LOCK:
        fig, _ = _figure()
        grid = fig.add_gridspec(4, 1, hspace=0.05, left=0.1, right=0.97, top=0.9, bottom=0.13)
        ax = fig.add_subplot(grid[:3, 0])
        vol = fig.add_subplot(grid[3, 0], sharex=ax)
        bars = series.bars
        xs = list(range(len(bars)))
        ups = [b.close >= b.open for b in bars]
        colors = [UP if up else DOWN for up in ups]
        if series.is_line:
            ax.plot(xs, [float(b.close) for b in bars], color=LINE, linewidth=1.6)
        else:
            lows = [float(b.low) for b in bars]
            highs = [float(b.high) for b in bars]
            ax.vlines(xs, lows, highs, colors=colors, linewidth=1.0)
            bottoms = [float(min(b.open, b.close)) for b in bars]
            # A doji still gets a visible body.
            heights = [float(abs(b.close - b.open)) for b in bars]
            span = (max(highs) - min(lows)) if bars else 0.0
            heights = [max(h, span * 0.002) for h in heights]
            ax.bar(xs, heights, bottom=bottoms, width=0.7, color=colors, linewidth=0)
        if bars:
            lo = float(min(b.low for b in bars))
            hi = float(max(b.high for b in bars))
            pad = (hi - lo) * 0.05 or max(abs(hi) * 0.01, 0.01)
            ax.set_ylim(lo - pad, hi + pad)
        vol.bar(
            xs, [b.volume for b in bars], width=0.7, color=colors if not series.is_line else LINE
        )
        ccy = f" ({series.currency})" if series.currency else ""
        ax.set_ylabel(f"Price{ccy}", fontsize=10)
        vol.set_ylabel("Volume", fontsize=9)
        from matplotlib.ticker import FuncFormatter, MaxNLocator

        vol.yaxis.set_major_formatter(FuncFormatter(lambda v, _: _compact(v)))
        vol.yaxis.set_major_locator(MaxNLocator(3))
        what = "intraday" if series.is_line else series.period
        ax.set_title(f"{series.symbol} · {what}", fontsize=12, loc="left")
        for panel in (ax, vol):
            panel.set_axisbelow(True)
            panel.grid(color=GRID, linewidth=0.8)
        ax.tick_params(labelbottom=False)
        if bars:
            _ticks(vol, series)
        vol.set_xlabel(f"Exchange time ({series.zone})", fontsize=9)
        labels = tuple(str(t.get_text()) for t in vol.get_xticklabels())
        return _save(fig, ax, labels)


def render_portfolio(series: PortfolioSeries, limit: int = 12) -> Chart:
    """Allocation % (left) and unrealized P&L in the base currency (right), largest first."""
    with _LOCK:
        fig, _ = _figure()
        ranked = sorted(series.holdings, key=lambda h: h.allocation_pct, reverse=True)[:limit]
        names = [h.symbol for h in ranked][::-1]
        alloc = fig.add_axes((0.14, 0.12, 0.36, 0.76))
        pnl = fig.add_axes((0.62, 0.12, 0.35, 0.76))
        alloc.barh(names, [float(h.allocation_pct) for h in ranked][::-1], color=LINE)
        alloc.set_xlabel("Allocation (%)", fontsize=10)
        values = [float(h.pnl_base) for h in ranked][::-1]
        pnl.barh(names, values, color=[UP if v >= 0 else DOWN for v in values])
        pnl.axvline(0, color="#888888", linewidth=0.8)
        pnl.set_xlabel(f"Unrealized P&L ({series.base_currency})", fontsize=10)
        for ax in (alloc, pnl):
            ax.set_axisbelow(True)
            ax.grid(axis="x", color=GRID, linewidth=0.8)
            ax.tick_params(labelsize=9)
        fig.suptitle(
            f"Portfolio · {_plain(series.total_value_base)} {series.base_currency}",
            fontsize=12,
            x=0.02,
            ha="left",
        )
        return _save(fig, None)


def _compact(value: float) -> str:
    for size, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "K")):
        if abs(value) >= size:
            return f"{value / size:g}{suffix}"
    return f"{value:g}"


def _plain(value: Decimal) -> str:
    return f"{value:,.2f}"


__all__ = ["Chart", "render_portfolio", "render_price"]
