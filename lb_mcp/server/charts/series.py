"""Chart data as plain series, and the short text summary every chart result carries.

Times are converted from UTC to the exchange's local zone here, once, so the picture, the view
and the summary all label the same instant the same way. Values stay ``Decimal`` until the
drawing code turns them into pixels.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, tzinfo
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from lb_mcp.sdk.enums import market_of, market_timezone

CENT = Decimal("0.01")
UTC_ZONE = ZoneInfo("UTC")


@dataclass(frozen=True)
class Bar:
    """One OHLC bar; ``at`` is the bar's start in the exchange's local time."""

    at: datetime
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    volume: int


@dataclass(frozen=True)
class PriceSeries:
    """Candles (``period`` like ``day``) or an intraday line (``period == "intraday"``, where
    each bar is one minute and open = high = low = close = the minute's price)."""

    symbol: str
    currency: str
    zone: str
    period: str
    bars: tuple[Bar, ...]

    @property
    def is_line(self) -> bool:
        return self.period == "intraday"


@dataclass(frozen=True)
class Holding:
    symbol: str
    allocation_pct: Decimal
    pnl_base: Decimal


@dataclass(frozen=True)
class PortfolioSeries:
    base_currency: str
    holdings: tuple[Holding, ...]
    total_value_base: Decimal
    total_pnl_base: Decimal


def exchange_zone(symbol: str) -> tzinfo:
    try:
        return market_timezone(market_of(symbol)) or UTC_ZONE
    except ValueError:
        return UTC_ZONE


def zone_name(zone: tzinfo) -> str:
    return getattr(zone, "key", None) or str(zone)


def money(value: Decimal) -> str:
    """Cents, never an exponent; sub-unit prices keep their digits (``0.0123``)."""
    if (
        abs(value) < 1
        and value == value.quantize(Decimal("0.0001"))
        and value != value.quantize(CENT)
    ):
        return format(value.normalize(), "f")
    return format(value.quantize(CENT), "f")


def _when(series: PriceSeries, at: datetime) -> str:
    if series.is_line or series.period.endswith("m"):
        return at.strftime("%Y-%m-%d %H:%M")
    return at.strftime("%Y-%m-%d")


def price_summary(series: PriceSeries) -> str:
    """One or two lines: range, change, high/low with when, in the instrument's currency."""
    bars = series.bars
    if not bars:
        return f"{series.symbol}: no {series.period} data to chart."
    first, last = bars[0], bars[-1]
    high = max(bars, key=lambda b: b.high)
    low = min(bars, key=lambda b: b.low)
    start = first.open
    change = last.close - start
    pct = f" ({change * 100 / start:+.2f}%)" if start else ""
    what = "intraday line" if series.is_line else f"{series.period} candles"
    ccy = f" {series.currency}" if series.currency else ""
    return (
        f"{series.symbol} {what}, {len(bars)} points, {_when(series, first.at)} to "
        f"{_when(series, last.at)} ({series.zone}). "
        f"Open {money(start)}, last {money(last.close)}{ccy}, change {money(change)}{pct}. "
        f"High {money(high.high)} at {_when(series, high.at)}, "
        f"low {money(low.low)} at {_when(series, low.at)}. "
        f"Volume {sum(b.volume for b in bars)}."
    )


def portfolio_summary(series: PortfolioSeries, limit: int = 10) -> str:
    ccy = series.base_currency
    if not series.holdings:
        return "Portfolio: no stock positions to chart."
    ranked = sorted(series.holdings, key=lambda h: h.allocation_pct, reverse=True)
    parts = [f"{h.symbol} {h.allocation_pct}% (P&L {money(h.pnl_base)})" for h in ranked[:limit]]
    more = f", and {len(ranked) - limit} more" if len(ranked) > limit else ""
    return (
        f"Portfolio in {ccy}: value {money(series.total_value_base)}, unrealized P&L "
        f"{money(series.total_pnl_base)}. Allocation: {', '.join(parts)}{more}."
    )


def price_view_data(series: PriceSeries) -> dict[str, Any]:
    """What the MCP App view draws: compact rows, money as exact strings."""
    return {
        "kind": "intraday" if series.is_line else "candles",
        "symbol": series.symbol,
        "currency": series.currency,
        "zone": series.zone,
        "period": series.period,
        "bars": [
            [
                b.at.strftime("%Y-%m-%d %H:%M"),
                str(b.open),
                str(b.high),
                str(b.low),
                str(b.close),
                b.volume,
            ]
            for b in series.bars
        ],
    }


def portfolio_view_data(series: PortfolioSeries) -> dict[str, Any]:
    return {
        "kind": "portfolio",
        "currency": series.base_currency,
        "total_value": money(series.total_value_base),
        "total_pnl": money(series.total_pnl_base),
        "holdings": [[h.symbol, str(h.allocation_pct), money(h.pnl_base)] for h in series.holdings],
    }


__all__ = [
    "Bar",
    "Holding",
    "PortfolioSeries",
    "PriceSeries",
    "exchange_zone",
    "money",
    "portfolio_summary",
    "portfolio_view_data",
    "price_summary",
    "price_view_data",
    "zone_name",
]
