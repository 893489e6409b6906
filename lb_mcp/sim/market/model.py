"""The simulated market: a seeded, bounded random walk on each symbol's tick grid.

``step()`` advances every symbol whose market is in its regular session, printing a few trades,
rebuilding a depth book (bid 1 = last, ask 1 = one tick up) and notifying listeners with a frozen
:class:`MarketEvent`. Everything the quote socket serves (quote, static info, depth, brokers,
trades, intraday, candlesticks, sessions, trading days) is answered from that same state as frozen
dataclasses holding ``Decimal`` prices and int epoch-second timestamps.

Scale: a symbol's state is built on its first use (a query, a subscription, an order), so a universe
of a thousand instruments costs nothing until asked for, and ``step()`` moves only the symbols in
use.

Determinism: each symbol has its own ``random.Random`` (seed, symbol), so its path does not depend
on which other symbols are in use; time comes from the injected ``clock``; the same seed, clock and
sequence of calls give identical prices. Fills of the simulated account are market trades too
(:meth:`take`).
"""

from __future__ import annotations

import random
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Final

from lb_mcp.sdk.enums import (
    MARKET_TIMEZONES,
    Market,
    OrderSide,
    Period,
    TradeDirection,
    TradeSession,
    TradeStatus,
)
from lb_mcp.sim.market import candles, preroll
from lb_mcp.sim.market.bars import Candle, History, MutableBar
from lb_mcp.sim.market.book import broker_levels, build_book, consume
from lb_mcp.sim.market.sessions import (
    Hours,
    MarketSessions,
    local_date,
    local_midnight,
    regular_windows,
    session_at,
    trading_days,
    trading_session,
)
from lb_mcp.sim.market.universe import (
    UNIVERSE,
    WARRANT_UNDERLYINGS,
    Security,
    move_ticks,
    round_to_tick,
)
from lb_mcp.sim.market.values import (
    BrokerLevel,
    Brokers,
    Depth,
    DepthLevel,
    IntradayLine,
    MarketEvent,
    Quote,
    StaticInfo,
    TradeTick,
)

_MAX_TRADES: Final = 1000
_MAX_MINUTES: Final = 3 * 1440
_WALK: Final = (-2, -1, -1, 0, 0, 0, 1, 1, 2)
_PULL: Final = 0.15  # share of steps that move toward the previous close
BAND: Final = Decimal("0.08")  # the walk stays within ±8 % of the previous close


@dataclass
class _State:
    sec: Security
    rng: random.Random  # the symbol's own stream: values do not depend on which symbols are used
    last: Decimal
    prev_close: Decimal
    trade_date: date
    timestamp: int
    open: Decimal = field(init=False)
    high: Decimal = field(init=False)
    low: Decimal = field(init=False)
    volume: int = 0
    turnover: Decimal = Decimal(0)
    sequence: int = 0
    asks: list[DepthLevel] = field(default_factory=list)
    bids: list[DepthLevel] = field(default_factory=list)
    ask_brokers: tuple[BrokerLevel, ...] = ()
    bid_brokers: tuple[BrokerLevel, ...] = ()
    book_stale: bool = True  # rebuilt on demand (depth, brokers, fills), not on every step
    trades: deque[TradeTick] = field(default_factory=lambda: deque(maxlen=_MAX_TRADES))
    minutes: dict[int, MutableBar] = field(default_factory=dict)
    past_days: list[Candle] = field(default_factory=list)  # live days completed since start

    def __post_init__(self) -> None:
        self.open = self.high = self.low = self.last


Listener = Callable[[MarketEvent], None]


def _derivatives(sec: Security) -> tuple[int, ...]:
    """Static info ``stock_derivatives``: 1 options (US stocks, ETFs), 2 warrants (some HK)."""
    if sec.quote_only:
        return ()
    if sec.market is Market.US:
        return (1,)
    return (2,) if sec.symbol in WARRANT_UNDERLYINGS else ()


class MarketModel:
    def __init__(
        self,
        *,
        seed: int = 7,
        hours: Hours | str = Hours.ALWAYS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.seed = seed
        self.hours = Hours(hours)
        self.clock = clock
        self._listeners: list[Listener] = []
        start = clock()
        self.start_ts = start
        self.history = History(seed, self.hours, start)
        # Built on first use (a query, a subscription, an order), never for the whole universe.
        self._states: dict[str, _State] = {}

    def _state(self, symbol: str) -> _State:
        state = self._states.get(symbol)
        if state is None:
            state = self._states[symbol] = self._materialize(UNIVERSE[symbol])
        return state

    def _materialize(self, sec: Security) -> _State:
        """A symbol's state on first use: its own seeded stream, today's pre-rolled session."""
        now = self.clock()
        rng = random.Random(f"lb-mcp-sim|{self.seed}|{sec.symbol}")
        drift = Decimal(str(round(rng.uniform(-0.01, 0.01), 4)))
        last = (
            (sec.base_price * (1 + drift)).quantize(Decimal("0.01"))
            if sec.quote_only
            else round_to_tick(sec.symbol, sec.base_price * (1 + drift))
        )
        state = _State(sec, rng, last, sec.base_price, local_date(sec.market, now), int(now))
        self._preroll(state, now)
        return state

    def _preroll(self, state: _State, now: float) -> None:
        """Fill today's session from its open up to ``now``, ending at the start price (see
        :mod:`.preroll`), without touching the walk's random stream or the symbol's sequence."""
        spans = regular_windows(state.sec.market, state.trade_date, self.hours)
        minutes = preroll.session_minutes(spans, now)
        session = preroll.roll(
            state.sec,
            self.seed,
            state.trade_date,
            state.last,
            state.prev_close,
            BAND,
            minutes,
            sum(end - start for start, end in spans) // 60,
            now,
            _MAX_TRADES,
        )
        if not session.bars:
            return
        bars = session.bars
        state.minutes = {bar.timestamp: bar for bar in bars[-_MAX_MINUTES:]}
        state.open = bars[0].open
        state.high = max(bar.high for bar in bars)
        state.low = min(bar.low for bar in bars)
        state.last = bars[-1].close
        state.volume = sum(bar.volume for bar in bars)
        state.turnover = sum((bar.turnover for bar in bars), Decimal(0))
        state.timestamp = session.trades[-1].timestamp
        state.trades.extend(session.trades)

    # ----------------------------------------------------------------- listeners

    def add_listener(self, callback: Listener) -> None:
        self._listeners.append(callback)

    def remove_listener(self, callback: Listener) -> None:
        self._listeners.remove(callback)

    def _notify(self, event: MarketEvent) -> None:
        for callback in list(self._listeners):
            callback(event)

    # ----------------------------------------------------------------- dynamics

    @property
    def symbols(self) -> tuple[str, ...]:
        """Every symbol of the universe."""
        return tuple(UNIVERSE)

    @property
    def active_symbols(self) -> tuple[str, ...]:
        """The symbols used so far (the ones ``step()`` moves)."""
        return tuple(self._states)

    def knows(self, symbol: str) -> bool:
        return symbol in UNIVERSE

    def is_trading(self, symbol: str, now: float | None = None) -> bool:
        """Whether ``symbol``'s market is in its regular (intraday) session at ``now``."""
        market = UNIVERSE[symbol].market
        when = self.clock() if now is None else now
        return session_at(market, when, self.hours) is TradeSession.Intraday

    def session(self, market: Market, now: float | None = None) -> TradeSession | None:
        return session_at(market, self.clock() if now is None else now, self.hours)

    def step(self) -> None:
        """Advance every symbol whose market is open by one random-walk step."""
        now = self.clock()
        open_markets = {
            market: session_at(market, now, self.hours) is TradeSession.Intraday
            for market in MARKET_TIMEZONES
        }
        for state in list(self._states.values()):
            if not open_markets.get(state.sec.market, False):
                continue
            self._roll_day(state, now)
            symbol = state.sec.symbol
            sec_quote_only = state.sec.quote_only
            rng = state.rng
            ticks = rng.choice(_WALK)
            if state.last > state.prev_close * (1 + BAND):
                ticks = -abs(ticks) or -1
            elif state.last < state.prev_close * (1 - BAND):
                ticks = abs(ticks) or 1
            elif rng.random() < _PULL and state.last != state.prev_close:
                # A gentle pull back toward the previous close: a day's range stays plausible
                # and a resting order near the money gets its chance on either side.
                ticks = -abs(ticks) if state.last > state.prev_close else abs(ticks)
            target = move_ticks(symbol, state.last, ticks)
            prints: list[TradeTick] = []
            for i in range(rng.randint(1, 3)):
                price = target if i == 0 else move_ticks(symbol, target, rng.choice((-1, 0, 1)))
                volume = state.sec.lot_size * rng.randint(1, 20)
                prints.append(self._print(state, price, volume, int(now)))
            state.book_stale = True
            self._emit(
                state, tuple(prints), brokers=state.sec.market is Market.HK and not sec_quote_only
            )

    def take(
        self, symbol: str, side: OrderSide, quantity: int, limit: Decimal | None
    ) -> list[tuple[Decimal, int]]:
        """Consume visible liquidity for a fill: buys lift asks ≤ ``limit``, sells hit bids ≥
        ``limit`` (``None`` = any price). Returns the (price, quantity) fills, best first."""
        state = self._state(symbol)
        now = self.clock()
        self._roll_day(state, now)
        self._book(state)
        book = state.asks if side is OrderSide.Buy else state.bids
        fills, remaining = consume(book, side, quantity, limit)
        if not fills:
            return fills
        if side is OrderSide.Buy:
            state.asks = remaining
        else:
            state.bids = remaining
        prints = tuple(self._print(state, price, qty, int(now)) for price, qty in fills)
        self._emit(state, prints, brokers=False, from_fill=True)
        return fills

    def _roll_day(self, state: _State, now: float) -> None:
        today = local_date(state.sec.market, now)
        if today == state.trade_date:
            return
        if state.volume > 0:
            state.past_days.append(self._day_bar(state))
        state.trade_date = today
        state.prev_close = state.last
        state.open = state.high = state.low = state.last
        state.volume = 0
        state.turnover = Decimal(0)

    def _print(self, state: _State, price: Decimal, volume: int, ts: int) -> TradeTick:
        previous = state.trades[-1].price if state.trades else state.last
        direction = (
            TradeDirection.Up
            if price > previous
            else TradeDirection.Down
            if price < previous
            else TradeDirection.Neutral
        )
        if state.volume == 0:
            state.open = state.high = state.low = price
        state.last = price
        state.high = max(state.high, price)
        state.low = min(state.low, price)
        state.volume += volume
        state.turnover += price * volume
        state.timestamp = ts
        bucket = ts - ts % 60
        bar = state.minutes.get(bucket)
        if bar is None:
            bar = state.minutes[bucket] = MutableBar(bucket, price, price, price, price)
            if len(state.minutes) > _MAX_MINUTES:
                del state.minutes[next(iter(state.minutes))]
        bar.add(price, volume)
        session = session_at(state.sec.market, ts, self.hours) or TradeSession.Intraday
        tick = TradeTick(price, volume, ts, "", direction, session)
        state.trades.append(tick)
        return tick

    def _emit(
        self,
        state: _State,
        prints: tuple[TradeTick, ...],
        *,
        brokers: bool,
        from_fill: bool = False,
    ) -> None:
        state.sequence += 1
        self._notify(
            MarketEvent(
                symbol=state.sec.symbol,
                sequence=state.sequence,
                timestamp=state.timestamp,
                quote_changed=True,
                depth_changed=True,
                brokers_changed=brokers,
                trades=prints,
                current_volume=sum(t.volume for t in prints),
                current_turnover=sum((t.price * t.volume for t in prints), Decimal(0)),
                from_fill=from_fill,
            )
        )

    def _book(self, state: _State) -> _State:
        """The book around the last price, rebuilt if a step moved it. Its own stream, seeded by
        (seed, symbol, sequence), so whether anyone looked at the book never changes the walk."""
        if not state.book_stale:
            return state
        state.book_stale = False
        if state.sec.quote_only:
            return state  # an index has no order book
        rng = random.Random(f"lb-mcp-sim|{self.seed}|{state.sec.symbol}|book|{state.sequence}")
        state.asks, state.bids = build_book(rng, state.sec, state.last)
        if state.sec.market is Market.HK:
            state.ask_brokers = broker_levels(rng, len(state.asks))
            state.bid_brokers = broker_levels(rng, len(state.bids))
        return state

    # ----------------------------------------------------------------- queries

    def security(self, symbol: str) -> Security:
        return self._state(symbol).sec

    def quote(self, symbol: str) -> Quote:
        s = self._state(symbol)
        session = session_at(s.sec.market, self.clock(), self.hours)
        return Quote(
            symbol=symbol,
            last_done=s.last,
            prev_close=s.prev_close,
            open=s.open,
            high=s.high,
            low=s.low,
            timestamp=s.timestamp,
            volume=s.volume,
            turnover=s.turnover.quantize(Decimal("0.001")),
            trade_status=TradeStatus.Normal,
            trade_session=session or TradeSession.Intraday,
            market_open=session is TradeSession.Intraday,
            sequence=s.sequence,
        )

    def last_price(self, symbol: str) -> Decimal:
        return self._state(symbol).last

    def static_info(self, symbol: str) -> StaticInfo:
        sec = self._state(symbol).sec
        return StaticInfo(
            symbol=symbol,
            name_cn=sec.name_cn,
            name_en=sec.name_en,
            name_hk=sec.name_hk,
            listing_date=sec.listing_date,
            exchange=sec.exchange,
            currency=sec.currency,
            lot_size=sec.lot_size,
            total_shares=sec.total_shares,
            circulating_shares=sec.circulating_shares,
            hk_shares=sec.hk_shares,
            eps=sec.eps,
            eps_ttm=sec.eps_ttm,
            bps=sec.bps,
            dividend_yield=sec.dividend_yield,
            stock_derivatives=_derivatives(sec),
            board=sec.board,
        )

    def depth(self, symbol: str) -> Depth:
        s = self._state(symbol)
        self._book(s)
        return Depth(symbol, tuple(s.asks), tuple(s.bids))

    def brokers(self, symbol: str) -> Brokers:
        """Broker queues (HK only; other markets answer empty queues)."""
        s = self._state(symbol)
        self._book(s)
        return Brokers(symbol, s.ask_brokers, s.bid_brokers)

    def trades(self, symbol: str, count: int) -> list[TradeTick]:
        """The ``count`` most recent trades, ascending in time."""
        trades = self._state(symbol).trades
        return list(trades)[-count:] if count > 0 else []

    def intraday(self, symbol: str) -> list[IntradayLine]:
        """Today's minute lines (minutes with trades), ascending."""
        s = self._state(symbol)
        lines: list[IntradayLine] = []
        volume, turnover = 0, Decimal(0)
        for bar in s.minutes.values():
            if local_date(s.sec.market, bar.timestamp) != s.trade_date:
                continue
            volume += bar.volume
            turnover += bar.turnover
            avg = (turnover / volume).quantize(Decimal("0.001")) if volume else bar.close
            lines.append(
                IntradayLine(
                    bar.close,
                    bar.timestamp,
                    bar.volume,
                    bar.turnover.quantize(Decimal("0.001")),
                    avg,
                )
            )
        return lines

    def _day_bar(self, s: _State) -> Candle:
        return Candle(
            s.last,
            s.open,
            s.low,
            s.high,
            s.volume,
            s.turnover.quantize(Decimal("0.001")),
            local_midnight(s.sec.market, s.trade_date),
        )

    def live_minutes(self, symbol: str) -> list[Candle]:
        return [bar.freeze() for bar in self._state(symbol).minutes.values()]

    def live_days(self, symbol: str) -> list[Candle]:
        """Days completed since start, plus today's bar if anything traded today."""
        s = self._state(symbol)
        today = [self._day_bar(s)] if s.volume > 0 else []
        return [*s.past_days, *today]

    def anchor_close(self, symbol: str) -> Decimal:
        """The previous close at simulator start: where the synthetic history ends."""
        return self._state(symbol).sec.base_price

    def candlesticks(self, symbol: str, period: Period | int, count: int) -> list[Candle]:
        """The latest ``count`` bars, ascending (synthetic past joined to live bars)."""
        return candles.latest(self, symbol, Period(period), count)

    def history_candlesticks_by_offset(
        self, symbol: str, period: Period | int, *, forward: bool, anchor: int | None, count: int
    ) -> list[Candle]:
        """``count`` bars after (``forward``) or up to ``anchor`` (epoch s; ``None`` = now)."""
        return candles.by_offset(self, symbol, Period(period), forward, anchor, count)

    def history_candlesticks_by_date(
        self, symbol: str, period: Period | int, start: date | None, end: date | None
    ) -> list[Candle]:
        """Bars whose market-local date lies in ``[start, end]`` (at most 1000, the newest)."""
        return candles.by_date(self, symbol, Period(period), start, end)

    def trading_session(self) -> tuple[MarketSessions, ...]:
        return trading_session(self.hours)

    def trading_days(self, market: Market, begin: date, end: date) -> tuple[list[date], list[date]]:
        """(trading days, half trading days) in ``[begin, end]``."""
        return trading_days(market, begin, end, self.hours)


__all__ = [
    "BrokerLevel",
    "Brokers",
    "Depth",
    "DepthLevel",
    "IntradayLine",
    "MarketEvent",
    "MarketModel",
    "Quote",
    "StaticInfo",
    "TradeTick",
]
