"""Candlestick history: a seeded synthetic past joined to the bars built from live trades.

The past is generated *backwards* from an anchor close (the previous close at simulator start), one
bar at a time, each bar drawing from its own ``Random`` keyed by (seed, symbol, period, bucket). So
a bar's values never depend on how many bars were asked for, and the series is continuous: each
synthetic bar closes where the next one opens, and the last one closes at the live prev-close.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Final

from lb_mcp.sdk.enums import Period, TradeSession
from lb_mcp.sim.market.sessions import Hours, is_trading_day, local_date, local_midnight, session_at
from lb_mcp.sim.market.universe import Security, round_to_tick

_SYNTHETIC_DAYS: Final = 2000  # calendar days of synthetic daily history (~5.5 years)
_MAX_MINUTE_BARS: Final = 10_000
_Q = Decimal("0.001")


@dataclass(frozen=True)
class Candle:
    close: Decimal
    open: Decimal
    low: Decimal
    high: Decimal
    volume: int
    turnover: Decimal
    timestamp: int  # bar start, epoch seconds
    trade_session: TradeSession = TradeSession.Intraday


@dataclass
class MutableBar:
    """A bar being built from live trades."""

    timestamp: int
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    volume: int = 0
    turnover: Decimal = Decimal(0)

    def add(self, price: Decimal, volume: int) -> None:
        self.high = max(self.high, price)
        self.low = min(self.low, price)
        self.close = price
        self.volume += volume
        self.turnover += price * volume

    def freeze(self) -> Candle:
        return Candle(
            self.close,
            self.open,
            self.low,
            self.high,
            self.volume,
            self.turnover.quantize(_Q),
            self.timestamp,
        )


def merge(bars: list[Candle], timestamp: int) -> Candle:
    return Candle(
        close=bars[-1].close,
        open=bars[0].open,
        low=min(b.low for b in bars),
        high=max(b.high for b in bars),
        volume=sum(b.volume for b in bars),
        turnover=sum((b.turnover for b in bars), Decimal(0)),
        timestamp=timestamp,
    )


def _synthetic_bar(
    sec: Security, seed: int, period: int, bucket: int, close: Decimal, minutes: float
) -> Candle:
    rng = random.Random(f"{seed}|{sec.symbol}|{period}|{bucket}")
    sigma = 0.0012 * minutes**0.5
    base = float(sec.base_price)
    # Mean-reverting backwards: the further from base, the more the bar is pulled toward it.
    ret = rng.gauss(0.0, sigma) + 0.05 * (float(close) - base) / base
    open_ = round_to_tick(sec.symbol, close / Decimal(str(1.0 + ret)))
    top, bottom = max(open_, close), min(open_, close)
    high = max(top, round_to_tick(sec.symbol, top * Decimal(str(1 + abs(rng.gauss(0, sigma / 2))))))
    low = min(
        bottom, round_to_tick(sec.symbol, bottom * Decimal(str(1 - abs(rng.gauss(0, sigma / 2)))))
    )
    daily_volume = sec.total_shares * 0.002 * rng.uniform(0.5, 1.5)
    lots = max(1, int(daily_volume * min(minutes, 390) / 390 / sec.lot_size))
    volume = lots * sec.lot_size
    turnover = (volume * (open_ + high + low + close) / 4).quantize(_Q)
    return Candle(close, open_, low, high, volume, turnover, bucket)


class History:
    """Synthetic past bars for every symbol, generated lazily and cached."""

    def __init__(self, seed: int, hours: Hours, start_ts: float) -> None:
        self._seed = seed
        self._hours = hours
        self._start_ts = start_ts
        self._days: dict[str, list[Candle]] = {}
        self._minutes: dict[tuple[str, int], list[Candle]] = {}  # newest first

    def days(self, sec: Security, anchor_close: Decimal) -> list[Candle]:
        """Daily bars for trading days before the start day, ascending."""
        cached = self._days.get(sec.symbol)
        if cached is not None:
            return cached
        start_day = local_date(sec.market, self._start_ts)
        out: list[Candle] = []
        close = anchor_close
        day = start_day - timedelta(days=1)
        for _ in range(_SYNTHETIC_DAYS):
            if is_trading_day(sec.market, day, self._hours):
                ts = local_midnight(sec.market, day)
                bar = _synthetic_bar(sec, self._seed, int(Period.Day), ts, close, 390)
                out.append(bar)
                close = bar.open
            day -= timedelta(days=1)
        out.reverse()
        self._days[sec.symbol] = out
        return out

    def minutes(
        self, sec: Security, period: int, anchor_close: Decimal, oldest: int, min_count: int
    ) -> list[Candle]:
        """``period``-minute bars before the start day, ascending: back to ``oldest`` and at
        least ``min_count`` bars (capped)."""
        key = (sec.symbol, period)
        bars = self._minutes.setdefault(key, [])
        step = period * 60
        cutoff = local_midnight(sec.market, local_date(sec.market, self._start_ts))
        bucket = bars[-1].timestamp - step if bars else (cutoff - step) - (cutoff - step) % step
        close = bars[-1].open if bars else anchor_close
        floor = cutoff - _SYNTHETIC_DAYS * 86_400  # guarantees termination
        while (len(bars) < min_count or bucket >= oldest) and len(bars) < _MAX_MINUTE_BARS:
            if bucket < floor:
                break
            if self._bucket_trades(sec, bucket, period):
                bar = _synthetic_bar(sec, self._seed, period, bucket, close, period)
                bars.append(bar)
                close = bar.open
            bucket -= step
        return list(reversed(bars))

    def _bucket_trades(self, sec: Security, bucket: int, period: int) -> bool:
        if self._hours is Hours.ALWAYS:
            return True
        probe = 0
        while probe < period:
            if session_at(sec.market, bucket + probe * 60, self._hours) is TradeSession.Intraday:
                return True
            probe += 15
        return False


def bucket_key(period: Period, day: date) -> date:
    """The first calendar day of the week / month / quarter / year containing ``day``."""
    if period is Period.Week:
        return day - timedelta(days=day.weekday())
    if period is Period.Month:
        return day.replace(day=1)
    if period is Period.Quarter:
        return day.replace(month=(day.month - 1) // 3 * 3 + 1, day=1)
    return day.replace(month=1, day=1)


__all__ = ["Candle", "History", "MutableBar", "bucket_key", "merge"]
