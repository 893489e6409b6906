"""The ``chart`` tool: a PNG that decodes, is drawn where the data says, plus the text fallback.

The price test maps the data's highest high and lowest low through the axes the renderer
reports and checks the candle pixels (the up/down colours) span exactly that range, so a chart
drawn with the wrong data or the wrong scale fails.
"""

from __future__ import annotations

import base64
import io
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from mcp.client.extension import ClientExtension
from mcp.server.apps import APP_MIME_TYPE, EXTENSION_ID
from PIL import Image

from lb_mcp.server.charts import png
from lb_mcp.server.charts.series import (
    Bar,
    Holding,
    PortfolioSeries,
    PriceSeries,
    portfolio_summary,
    price_summary,
)
from lb_mcp.server.output import unwrap_text

from .appkit import MODES, connected

pytestmark = pytest.mark.anyio
ZONE = "Asia/Hong_Kong"


class AppsHost(ClientExtension):
    """A client that declares MCP Apps support, as Claude or ChatGPT do."""

    identifier = EXTENSION_ID

    def settings(self) -> dict[str, Any]:
        return {"mimeTypes": [APP_MIME_TYPE]}


def _bars() -> tuple[Bar, ...]:
    start = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
    closes = [100, 104, 101, 97, 99, 108, 111, 106, 103, 109]
    out = []
    prev = Decimal(100)
    for i, c in enumerate(closes):
        close = Decimal(c)
        out.append(
            Bar(
                at=start + timedelta(days=i),
                open=prev,
                high=max(prev, close) + Decimal("1.5"),
                low=min(prev, close) - Decimal("1.25"),
                close=close,
                volume=1000 * (i + 1),
            )
        )
        prev = close
    return tuple(out)


def _image(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    assert image.format == "PNG"
    return image.convert("RGB")


def _colours(image: Image.Image) -> set[tuple[int, int, int]]:
    return {c for _, c in image.getcolors(maxcolors=1 << 20) or []}


def _rows_with(image: Image.Image, box: tuple[float, float, float, float], colours: set[str]):
    wanted = {tuple(int(c[i : i + 2], 16) for i in (1, 3, 5)) for c in colours}
    left, top, right, bottom = (int(v) for v in box)
    rows = []
    pixels = image.load()
    for y in range(top + 1, bottom - 1):
        for x in range(left + 1, right - 1):
            r, g, b = pixels[x, y]
            if any(abs(r - w[0]) + abs(g - w[1]) + abs(b - w[2]) < 30 for w in wanted):
                rows.append(y)
                break
    return rows


def test_candles_are_drawn_over_exactly_the_data_range() -> None:
    bars = _bars()
    chart = png.render_price(PriceSeries("700.HK", "HKD", ZONE, "day", bars))
    image = _image(chart.png)
    assert image.size == (800, 450) == (chart.width, chart.height)
    assert len(_colours(image)) > 20  # not blank: candles, axes, labels
    assert chart.price_box is not None and chart.price_limits is not None
    _, top, _, bottom = chart.price_box
    lo_lim, hi_lim = chart.price_limits
    high = float(max(b.high for b in bars))
    low = float(min(b.low for b in bars))
    assert lo_lim < low < high < hi_lim

    def pixel_y(price: float) -> float:
        return top + (hi_lim - price) / (hi_lim - lo_lim) * (bottom - top)

    rows = _rows_with(image, chart.price_box, {png.UP, png.DOWN})
    assert rows, "no candle drawn"
    assert abs(min(rows) - pixel_y(high)) <= 2
    assert abs(max(rows) - pixel_y(low)) <= 2


def test_an_intraday_line_spans_its_prices() -> None:
    start = datetime(2026, 3, 2, 1, 30, tzinfo=UTC)
    prices = [Decimal("50.1"), Decimal("50.6"), Decimal("49.8"), Decimal("51.2"), Decimal("50.9")]
    bars = tuple(Bar(start + timedelta(minutes=i), p, p, p, p, 10) for i, p in enumerate(prices))
    hk = ZoneInfo(ZONE)
    local = tuple(Bar(b.at.astimezone(hk), b.open, b.high, b.low, b.close, b.volume) for b in bars)
    chart = png.render_price(PriceSeries("700.HK", "HKD", ZONE, "intraday", local))
    assert chart.x_labels[0] == "09:30"  # 01:30 UTC on the Hong Kong clock
    image = _image(chart.png)
    assert chart.price_box is not None and chart.price_limits is not None
    lo_lim, hi_lim = chart.price_limits
    _, top, _, bottom = chart.price_box
    rows = _rows_with(image, chart.price_box, {png.LINE})

    def pixel_y(price: float) -> float:
        return top + (hi_lim - price) / (hi_lim - lo_lim) * (bottom - top)

    # The line is 1.6 px wide, so its extremes sit within a pixel or two of the prices.
    assert abs(min(rows) - pixel_y(51.2)) <= 3
    assert abs(max(rows) - pixel_y(49.8)) <= 3


def test_the_summary_states_range_change_and_extremes_in_the_currency() -> None:
    series = PriceSeries("700.HK", "HKD", ZONE, "day", _bars())
    text = price_summary(series)
    assert "2026-03-02 to 2026-03-11 (Asia/Hong_Kong)" in text
    assert "Open 100.00, last 109.00 HKD, change 9.00 (+9.00%)" in text
    assert "High 112.50 at 2026-03-08" in text and "low 95.75 at 2026-03-05" in text
    assert len(text) < 400


def test_portfolio_chart_and_summary() -> None:
    folio = PortfolioSeries(
        "HKD",
        (
            Holding("700.HK", Decimal("70.00"), Decimal("1200.5")),
            Holding("AAPL.US", Decimal("30.00"), Decimal("-80")),
        ),
        Decimal("100000"),
        Decimal("1120.5"),
    )
    image = _image(png.render_portfolio(folio).png)
    colours = _colours(image)
    assert (0x26, 0xA6, 0x9A) in colours and (0xEF, 0x53, 0x50) in colours  # gain and loss bars
    assert portfolio_summary(folio) == (
        "Portfolio in HKD: value 100000.00, unrealized P&L 1120.50. Allocation: "
        "700.HK 70.00% (P&L 1200.50), AAPL.US 30.00% (P&L -80.00)."
    )


@pytest.mark.parametrize("mode", MODES)
async def test_the_tool_returns_text_and_png_and_rows_only_to_apps_hosts(
    tmp_path: Path, mode: str
) -> None:
    async with connected(tmp_path, mode) as (_, client):
        result = await client.call_tool("chart", {"symbol": "700.HK", "count": 20})
        assert not result.is_error
        text, image = result.content
        assert text.type == "text"
        assert unwrap_text(text.text).startswith("700.HK day candles, 20 points")
        assert "HKD" in text.text
        assert image.type == "image" and image.mime_type == "image/png"
        assert _image(base64.b64decode(image.data)).size == (800, 450)
        assert result.structured_content is None  # a plain client's context gets no rows
        tools = {t.name: t for t in (await client.list_tools()).tools}
        assert tools["chart"].meta == {"ui": {"resourceUri": "ui://lb-mcp/chart.html"}}
    async with connected(tmp_path / "apps", mode, extensions=[AppsHost()]) as (_, client):
        result = await client.call_tool("chart", {"symbol": "700.HK", "count": 20})
        data = result.structured_content
        assert data is not None and data["kind"] == "candles" and len(data["bars"]) == 20
        assert data["currency"] == "HKD" and data["zone"] == ZONE
        folio = await client.call_tool("chart", {"kind": "portfolio"})
        assert folio.structured_content is not None
        assert unwrap_text(folio.content[0].text).startswith("Portfolio in HKD")


async def test_a_price_chart_without_a_symbol_is_an_argument_error(tmp_path: Path) -> None:
    async with connected(tmp_path, "legacy") as (_, client):
        result = await client.call_tool("chart", {"kind": "intraday"})
        assert result.is_error
        assert result.structured_content is not None
        assert result.structured_content["error"]["code"] == "INVALID_ARGUMENT"


async def test_the_view_resource_is_self_contained_html(tmp_path: Path) -> None:
    async with connected(tmp_path, "legacy") as (_, client):
        read = await client.read_resource("ui://lb-mcp/chart.html")
        [content] = read.contents
        assert content.mime_type == APP_MIME_TYPE
        html = content.text
        assert "<script>" in html and "ui/initialize" in html
        for remote in ("src=", "href=", "http://", "https://", "@import", "fetch("):
            assert remote not in html.replace('"http://www.w3.org/2000/svg"', "")
        # Read-only: the only tool the view can call is chart.
        assert html.count("tools/call") == 1 and '{ name: "chart", arguments: args }' in html


# Imported at the first tool call, never before ``initialize`` is answered (cold start).
LAZY = (
    "matplotlib",
    "PIL",
    "numpy",
    "lb_mcp.sim",
    "lb_mcp.sdk.quote.context",
    "lb_mcp.sdk.quote.feed",
    "lb_mcp.sdk.trade.context",
    "lb_mcp.sdk.transport.ws",
    "lb_mcp.server.gate.service",
    "lb_mcp.server.tools.history",
    "lb_mcp.server.tools.derivatives",
    "lb_mcp.server.tools.orders",
    "websockets",
)


def test_serving_does_not_import_matplotlib_or_the_broker_side(tmp_path: Path) -> None:
    code = (
        "import sys, lb_mcp.server.app, lb_mcp.__main__\n"
        "from lb_mcp.sdk.enums import Mode\n"
        "from lb_mcp.server.backend import PendingBackend\n"
        "from lb_mcp.server.settings import ServerSettings\n"
        "lb_mcp.server.app.build_server(ServerSettings.from_env(), "
        "PendingBackend(mode=Mode.SANDBOX, description='sim', open=None))\n"
        f"lazy = {LAZY!r}\n"
        "print(sorted(m for m in sys.modules if any(m == n or m.startswith(n + '.') "
        "for n in lazy)))"
    )
    env = {
        "HOME": str(tmp_path),
        "XDG_STATE_HOME": str(tmp_path),
        "LB_MCP_STATE_DIR": str(tmp_path / "state"),
        "PATH": "/usr/bin:/bin",
    }
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env
    )
    assert out.stdout.strip() == "[]"
