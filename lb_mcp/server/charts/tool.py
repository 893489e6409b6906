"""The ``chart`` tool: a PNG plus a short summary, and an MCP App view where hosts render one.

Every client gets the text summary and the PNG (the model sees both). A client that negotiated
MCP Apps (``io.modelcontextprotocol/ui``) also gets ``structuredContent`` with the compact rows
the view draws; others do not pay for those rows in their context. The view only reads data:
the one tool it may call is ``chart`` itself, to switch the period.
"""

from __future__ import annotations

import base64
from typing import Annotated, Literal

import anyio.to_thread
from mcp.server.apps import Apps, client_supports_apps
from mcp_types import CallToolResult, ImageContent, TextContent
from pydantic import Field

from lb_mcp.sdk.enums import AdjustType
from lb_mcp.sdk.errors import OpenApiException
from lb_mcp.server.charts import png, view
from lb_mcp.server.charts.series import (
    Bar,
    Holding,
    PortfolioSeries,
    PriceSeries,
    exchange_zone,
    portfolio_summary,
    portfolio_view_data,
    price_summary,
    price_view_data,
    zone_name,
)
from lb_mcp.server.context import AppContext, AppCtx, app_of
from lb_mcp.server.errors import ToolFailure
from lb_mcp.server.output import PERIODS, READ_BROKER, PeriodArg, parse_symbol

VIEW_URI = "ui://lb-mcp/chart.html"
ChartKind = Literal["candles", "intraday", "portfolio"]


async def _currency(app: AppContext, symbol: str) -> str:
    try:
        infos = list(await app.quote.static_info([symbol]))
    except OpenApiException:
        return ""
    return infos[0].currency if infos else ""


async def price_series(app: AppContext, symbol: str, period: str, count: int) -> PriceSeries:
    zone = exchange_zone(symbol)
    if period == "intraday":
        lines = list(await app.quote.intraday(symbol))[-count:]
        bars = tuple(
            Bar(m.timestamp.astimezone(zone), m.price, m.price, m.price, m.price, m.volume)
            for m in lines
        )
    else:
        candles = await app.quote.candlesticks(symbol, PERIODS[period], count, AdjustType.NoAdjust)
        bars = tuple(
            Bar(c.timestamp.astimezone(zone), c.open, c.high, c.low, c.close, c.volume)
            for c in candles
        )
    if not bars:
        raise ToolFailure("NO_DATA", f"the broker has no {period} data for {symbol} right now")
    return PriceSeries(symbol, await _currency(app, symbol), zone_name(zone), period, bars)


async def portfolio_series(app: AppContext) -> PortfolioSeries:
    from lb_mcp.server.tools.portfolio import build_portfolio  # not before initialize

    result = await build_portfolio(app)
    rates = {t.currency: t.rate_to_base for t in result.totals}
    holdings = []
    for h in result.holdings:
        rate = rates.get(h.currency)
        if h.allocation_pct is None or h.unrealized_pnl is None or rate is None:
            continue
        holdings.append(Holding(h.symbol, h.allocation_pct, h.unrealized_pnl * rate))
    return PortfolioSeries(
        result.base_currency,
        tuple(holdings),
        result.total_market_value_base,
        result.total_unrealized_pnl_base,
    )


def _result(summary: str, chart: png.Chart, data: dict[str, object], ui: bool) -> CallToolResult:
    image = base64.b64encode(chart.png).decode("ascii")
    return CallToolResult(
        content=[
            TextContent(text=summary),
            ImageContent(data=image, mime_type="image/png"),
        ],
        structured_content=data if ui else None,
    )


def register(apps: Apps) -> None:
    """Add ``chart`` and its view to ``apps`` (pass ``apps`` to ``MCPServer(extensions=...)``)."""
    apps.add_html_resource(
        VIEW_URI,
        view.html(),
        name="chart-view",
        title="lb-mcp chart",
        description="Interactive candlestick, intraday and portfolio charts (read-only).",
        prefers_border=True,
    )

    @apps.tool(resource_uri=VIEW_URI, name="chart", title="Chart", annotations=READ_BROKER)
    async def chart(
        ctx: AppCtx,
        kind: ChartKind = "candles",
        symbol: Annotated[str | None, Field(max_length=32)] = None,
        period: PeriodArg = "day",
        count: Annotated[int, Field(ge=5, le=250)] = 60,
    ) -> CallToolResult:
        """PNG plus summary: a symbol's candles (last `count` bars of `period`), intraday line (last
        `count` minutes), or with `kind=portfolio` (no symbol) allocation and P&L."""
        app = app_of(ctx)
        ui = client_supports_apps(ctx)
        if kind == "portfolio":
            folio = await portfolio_series(app)
            drawn = await anyio.to_thread.run_sync(png.render_portfolio, folio)
            return _result(portfolio_summary(folio), drawn, portfolio_view_data(folio), ui)
        if not symbol:
            raise ToolFailure("INVALID_ARGUMENT", f"kind={kind} needs a symbol, e.g. 700.HK")
        sym = parse_symbol(symbol)
        series = await price_series(app, sym, "intraday" if kind == "intraday" else period, count)
        drawn = await anyio.to_thread.run_sync(png.render_price, series)
        return _result(price_summary(series), drawn, price_view_data(series), ui)


__all__ = ["VIEW_URI", "portfolio_series", "price_series", "register"]
