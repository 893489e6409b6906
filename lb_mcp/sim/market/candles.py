"""Candlestick queries over the market model (any :class:`CandleSource`): latest, by offset, by
date.

Minute periods bucket on epoch multiples of the period; daily bars sit at local midnight of the
market's trading day; week / month / quarter / year bars merge daily bars and sit at local midnight
of the period's first calendar day. Every series is ascending in time.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from decimal import Decimal
from typing import Final, Protocol

from lb_mcp.sdk.enums import Period
from lb_mcp.sim.market.bars import Candle, History, bucket_key, merge
from lb_mcp.sim.market.sessions import local_date, local_midnight
from lb_mcp.sim.market.universe import Security


class CandleSource(Protocol):
    """What candle queries read of the market model (``MarketModel`` is one)."""

    history: History
    clock: Callable[[], float]

    def security(self, symbol: str) -> Security: ...

    def anchor_close(self, symbol: str) -> Decimal: ...

    def live_minutes(self, symbol: str) -> list[Candle]: ...

    def live_days(self, symbol: str) -> list[Candle]: ...


MAX_COUNT: Final = 1000
_DAILY: Final = frozenset({Period.Day, Period.Week, Period.Month, Period.Quarter, Period.Year})


def _check(period: Period) -> None:
    if period is Period.Unknown:
        raise ValueError("unknown candlestick period")


def _daily(m: CandleSource, symbol: str, period: Period) -> list[Candle]:
    sec = m.security(symbol)
    days = [*m.history.days(sec, m.anchor_close(symbol)), *m.live_days(symbol)]
    if period is Period.Day:
        return days
    groups: dict[date, list[Candle]] = {}
    for bar in days:
        key = bucket_key(period, local_date(sec.market, bar.timestamp))
        groups.setdefault(key, []).append(bar)
    return [merge(bars, local_midnight(sec.market, key)) for key, bars in groups.items()]


def _minutes(m: CandleSource, symbol: str, period: Period, oldest: int, count: int) -> list[Candle]:
    sec = m.security(symbol)
    step = int(period) * 60
    grouped: dict[int, list[Candle]] = {}
    for bar in m.live_minutes(symbol):
        grouped.setdefault(bar.timestamp - bar.timestamp % step, []).append(bar)
    live = [merge(bars, ts) for ts, bars in grouped.items()]
    synthetic = m.history.minutes(sec, int(period), m.anchor_close(symbol), oldest, count)
    return [*synthetic, *live]


def series(
    m: CandleSource, symbol: str, period: Period, *, oldest: int, count: int
) -> list[Candle]:
    """Bars back to at least epoch ``oldest`` and at least ``count`` bars where history allows."""
    _check(period)
    if period in _DAILY:
        return _daily(m, symbol, period)
    return _minutes(m, symbol, period, oldest, count)


def latest(m: CandleSource, symbol: str, period: Period, count: int) -> list[Candle]:
    count = max(0, min(count, MAX_COUNT))
    if count == 0:
        _check(period)
        return []
    return series(m, symbol, period, oldest=2**62, count=count)[-count:]


def by_offset(
    m: CandleSource, symbol: str, period: Period, forward: bool, anchor: int | None, count: int
) -> list[Candle]:
    count = max(0, min(count, MAX_COUNT))
    at = int(m.clock()) if anchor is None else anchor
    span = max(60, (int(period) if period not in _DAILY else 1440) * 60) * (count + 1)
    oldest = at if forward else at - span
    for _ in range(8):
        bars = series(m, symbol, period, oldest=oldest, count=count)
        if forward:
            return [b for b in bars if b.timestamp >= at][:count]
        before = [b for b in bars if b.timestamp <= at]
        # Closed hours can leave fewer bars than asked for in the span: widen and retry.
        if len(before) >= count or period in _DAILY:
            return before[-count:] if count else []
        oldest -= span * 2
        span *= 2
    return before[-count:] if count else []


def by_date(
    m: CandleSource, symbol: str, period: Period, start: date | None, end: date | None
) -> list[Candle]:
    market = m.security(symbol).market
    oldest = local_midnight(market, start) if start is not None else 2**62
    bars = series(m, symbol, period, oldest=oldest, count=MAX_COUNT if start is None else 0)
    picked = [
        b
        for b in bars
        if (start is None or local_date(market, b.timestamp) >= start)
        and (end is None or local_date(market, b.timestamp) <= end)
    ]
    return picked[-MAX_COUNT:]


__all__ = ["MAX_COUNT", "by_date", "by_offset", "latest", "series"]
