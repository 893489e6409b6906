"""The local push store behind ``realtime_*``, and candlesticks built from pushes.

Like the official SDK's store (sdk-src ``quote/store.rs``), every accepted push is kept,
subscribed locally or not: the merged quote, depth and broker levels upserted by ``position``,
and the recent trades (trimmed to the newest 500 once 1000 are held). ``realtime_*`` reads
answer from here and never touch the network.

There is no candlestick push on the wire (protocol.md §5.2): ``subscribe_candlesticks`` pulls
the recent bars and :class:`CandleSeries` keeps them up to date, the daily bar from PushQuote
(open/high/low/last and the day's volume and turnover) and every other period from PushTrade
prints. Bars are bucketed as the simulator and the pull answers place them: minute periods on
epoch multiples of the period, a day at local midnight of the exchange's date, week / month /
quarter / year at local midnight of their first calendar day. A bar becomes ``is_confirmed``
when a print or quote of a later bar arrives (the official SDK also closes bars on a timer at
the session's end; this store does not).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from datetime import time as dtime
from typing import Final, TypeVar

from lb_mcp.sdk.config import PushCandlestickMode
from lb_mcp.sdk.enums import Period, TradeSession, TradeSessions, market_of, market_timezone
from lb_mcp.sdk.quote.models import (
    Brokers,
    Candlestick,
    Depth,
    PushBrokers,
    PushCandlestick,
    PushDepth,
    PushQuote,
    PushTrades,
    RealtimeQuote,
    SecurityBrokers,
    SecurityDepth,
    Trade,
    utc_from_epoch,
)

MAX_TRADES: Final = 500  # kept per symbol (the SDK trims to this once twice as many are held)
MAX_CANDLESTICKS: Final = 500  # likewise per (symbol, period)


@dataclass(frozen=True, slots=True)
class CandleTopic:
    """The push kind of built candlesticks of one period (the feed's key next to ``SubType``)."""

    period: Period
    # A closed bar is an event, not state: its own key keeps the next bar of a consumer that
    # is behind from coalescing it away.
    confirmed: bool = False


# ---------------------------------------------------------------------------- candlesticks


def _first_day(period: Period, day: date) -> date:
    if period is Period.Week:
        return day - timedelta(days=day.weekday())
    if period is Period.Month:
        return day.replace(day=1)
    if period is Period.Quarter:
        return day.replace(month=(day.month - 1) // 3 * 3 + 1, day=1)
    if period is Period.Year:
        return day.replace(month=1, day=1)
    return day


def bar_start(symbol: str, period: Period, moment: datetime) -> datetime | None:
    """The timestamp of the bar of ``period`` that ``moment`` falls in (None: unknown zone)."""
    if period < Period.Day:
        seconds = int(moment.timestamp())
        step = int(period) * 60
        return utc_from_epoch(seconds - seconds % step)
    zone = market_timezone(market_of(symbol))
    if zone is None:
        return None
    day = _first_day(period, moment.astimezone(zone).date())
    return datetime.combine(day, dtime(0), zone).astimezone(UTC)


class CandleSeries:
    """The bars of one (symbol, period), kept current from pushes."""

    def __init__(
        self, symbol: str, period: Period, trade_sessions: TradeSessions, bars: list[Candlestick]
    ) -> None:
        self.symbol = symbol
        self.period = period
        self.trade_sessions = trade_sessions
        self.bars = list(bars)

    def _wanted(self, session: TradeSession) -> bool:
        return session is TradeSession.Intraday or self.trade_sessions is TradeSessions.All

    def on_trades(self, trades: list[Trade]) -> list[PushCandlestick]:
        if self.period is Period.Day:
            return []  # the daily bar follows the quote (its volume is the day's)
        events: list[PushCandlestick] = []
        for trade in trades:
            if not self._wanted(trade.trade_session):
                continue
            start = bar_start(self.symbol, self.period, trade.timestamp)
            if start is None:
                continue
            price, volume = trade.price, trade.volume
            last = self.bars[-1] if self.bars else None
            if last is not None and start == last.timestamp:
                bar = Candlestick(
                    close=price,
                    open=last.open,
                    low=min(last.low, price),
                    high=max(last.high, price),
                    volume=last.volume + volume,
                    turnover=last.turnover + price * volume,
                    timestamp=start,
                    trade_session=last.trade_session,
                )
            else:
                bar = Candlestick(
                    close=price,
                    open=price,
                    low=price,
                    high=price,
                    volume=volume,
                    turnover=price * volume,
                    timestamp=start,
                    trade_session=trade.trade_session,
                )
            events.extend(self._put(bar))
        return events

    def on_quote(self, quote: PushQuote) -> list[PushCandlestick]:
        if self.period is not Period.Day or not self._wanted(quote.trade_session):
            return []
        start = bar_start(self.symbol, Period.Day, quote.timestamp)
        if start is None or not quote.last_done:
            return []
        bar = Candlestick(
            close=quote.last_done,
            open=quote.open or quote.last_done,
            low=quote.low or quote.last_done,
            high=quote.high or quote.last_done,
            volume=quote.volume,
            turnover=quote.turnover,
            timestamp=start,
            trade_session=TradeSession.Intraday,
        )
        return self._put(bar)

    def _put(self, bar: Candlestick) -> list[PushCandlestick]:
        """Replace the last bar or start a new one; the events to deliver, oldest first."""
        last = self.bars[-1] if self.bars else None
        if last is not None and bar.timestamp < last.timestamp:
            return []  # a late print of a bar already closed: the pulled bar has it
        if last is not None and bar.timestamp == last.timestamp:
            if bar == last:
                return []
            self.bars[-1] = bar
            return [PushCandlestick(period=self.period, candlestick=bar, is_confirmed=False)]
        self.bars.append(bar)
        if len(self.bars) > 2 * MAX_CANDLESTICKS:
            del self.bars[:-MAX_CANDLESTICKS]
        events = [PushCandlestick(period=self.period, candlestick=bar, is_confirmed=False)]
        if last is not None:
            closed = PushCandlestick(period=self.period, candlestick=last, is_confirmed=True)
            events.insert(0, closed)
        return events


# ---------------------------------------------------------------------------- the store


@dataclass(slots=True)
class _Security:
    quote: PushQuote | None = None
    asks: dict[int, Depth] = field(default_factory=dict)
    bids: dict[int, Depth] = field(default_factory=dict)
    ask_brokers: dict[int, Brokers] = field(default_factory=dict)
    bid_brokers: dict[int, Brokers] = field(default_factory=dict)
    trades: list[Trade] = field(default_factory=list)


L = TypeVar("L", Depth, Brokers)


def _levels(levels: dict[int, L]) -> list[L]:
    return [levels[position] for position in sorted(levels)]


class LocalStore:
    """What pushes told about each symbol, and the candlestick series being kept."""

    def __init__(self, mode: PushCandlestickMode = PushCandlestickMode.Realtime) -> None:
        self._mode = mode
        self._data: dict[str, _Security] = {}
        self.candles: dict[str, dict[Period, CandleSeries]] = {}
        # The feed keeps the merged quotes itself and builds them on demand (see QuoteFeed).
        self.quote_source: Callable[[str], PushQuote | None] = self._stored_quote

    def _stored_quote(self, symbol: str) -> PushQuote | None:
        data = self._data.get(symbol)
        return None if data is None else data.quote

    def _security(self, symbol: str) -> _Security:
        data = self._data.get(symbol)
        if data is None:
            data = self._data[symbol] = _Security()
        return data

    def _emit(self, events: list[PushCandlestick]) -> list[PushCandlestick]:
        if self._mode is PushCandlestickMode.Confirmed:
            return [e for e in events if e.is_confirmed]
        return events

    # ------------------------------------------------------------------ pushes in

    def on_quote(self, symbol: str, quote: PushQuote) -> list[PushCandlestick]:
        """``quote`` is already merged into the previous state (the feed does that)."""
        self._security(symbol).quote = quote
        series = self.candles.get(symbol)
        if not series or Period.Day not in series:
            return []
        return self._emit(series[Period.Day].on_quote(quote))

    def on_depth(self, symbol: str, push: PushDepth) -> None:
        data = self._security(symbol)
        data.asks.update((level.position, level) for level in push.asks)
        data.bids.update((level.position, level) for level in push.bids)

    def on_brokers(self, symbol: str, push: PushBrokers) -> None:
        data = self._security(symbol)
        data.ask_brokers.update((level.position, level) for level in push.ask_brokers)
        data.bid_brokers.update((level.position, level) for level in push.bid_brokers)

    def on_trades(self, symbol: str, push: PushTrades) -> list[PushCandlestick]:
        trades = self._security(symbol).trades
        trades.extend(push.trades)
        if len(trades) > 2 * MAX_TRADES:
            del trades[:MAX_TRADES]
        series = self.candles.get(symbol)
        if not series:
            return []
        events: list[PushCandlestick] = []
        for one in series.values():
            events.extend(one.on_trades(push.trades))
        return self._emit(events)

    # ------------------------------------------------------------------ candlestick series

    def series(self, symbol: str, period: Period) -> CandleSeries | None:
        return self.candles.get(symbol, {}).get(period)

    def add_series(self, series: CandleSeries) -> None:
        self.candles.setdefault(series.symbol, {})[series.period] = series

    def remove_series(self, symbol: str, period: Period) -> bool:
        """Forget one series; True if the symbol has no candlestick series left."""
        periods = self.candles.get(symbol)
        if periods is None:
            return False
        periods.pop(period, None)
        if periods:
            return False
        del self.candles[symbol]
        return True

    def candle_periods(self, symbol: str) -> list[Period]:
        return sorted(self.candles.get(symbol, {}))

    # ------------------------------------------------------------------ reads

    def realtime_quote(self, symbols: list[str]) -> list[RealtimeQuote]:
        out: list[RealtimeQuote] = []
        for symbol in symbols:
            q = self.quote_source(symbol)
            if q is None:
                continue
            out.append(
                RealtimeQuote(
                    symbol=symbol,
                    last_done=q.last_done,
                    open=q.open,
                    high=q.high,
                    low=q.low,
                    timestamp=q.timestamp,
                    volume=q.volume,
                    turnover=q.turnover,
                    trade_status=q.trade_status,
                )
            )
        return out

    def realtime_depth(self, symbol: str) -> SecurityDepth:
        data = self._data.get(symbol)
        if data is None:
            return SecurityDepth(asks=[], bids=[])
        return SecurityDepth(asks=_levels(data.asks), bids=_levels(data.bids))

    def realtime_brokers(self, symbol: str) -> SecurityBrokers:
        data = self._data.get(symbol)
        if data is None:
            return SecurityBrokers(ask_brokers=[], bid_brokers=[])
        return SecurityBrokers(
            ask_brokers=_levels(data.ask_brokers), bid_brokers=_levels(data.bid_brokers)
        )

    def realtime_trades(self, symbol: str, count: int) -> list[Trade]:
        data = self._data.get(symbol)
        if data is None or count <= 0:
            return []
        return data.trades[-count:]

    def realtime_candlesticks(self, symbol: str, period: Period, count: int) -> list[Candlestick]:
        series = self.series(symbol, period)
        if series is None or count <= 0:
            return []
        return series.bars[-count:]


__all__ = [
    "MAX_CANDLESTICKS",
    "MAX_TRADES",
    "CandleSeries",
    "CandleTopic",
    "LocalStore",
    "bar_start",
]
