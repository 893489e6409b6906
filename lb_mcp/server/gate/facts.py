"""Facts the order guards need, gathered from the backend at check time.

``check_order`` is pure; this module is its I/O half. It reads a quote and the static info of
the symbol through anything shaped like the SDK's ``QuoteContext`` (``quote``/``static_info``),
the account's capacity through ``TradeContext`` (``estimate_max_purchase_quantity``,
``stock_positions``), and today's usage from the ``UsageLedger``. A backend failure while
reading capacity leaves that fact unknown (the broker still refuses what it cannot fill); a
failure reading the quote leaves ``last`` empty, so the price-band guard refuses rather than
guessing.

Whether the session is open is the backend's answer too (:class:`SessionCalendar`): the
market's ``trading_session()`` periods (cached for :data:`SESSION_TTL_S`), read in the
market's own time zone, on a day ``trading_days()`` lists, for the sessions the order may
trade in (``outside_rth``), and a quote whose ``trade_status`` is ``Normal``. Any of these
failing to load leaves it unknown (the guards warn); only a clear "closed" refuses.

FX for the notional caps uses the Hong Kong dollar peg band (7.75-7.85 HKD per USD) and always
picks the end that makes the order look **larger** in the base currency, so the cap can only
err on the side of refusing.
"""

from __future__ import annotations

import logging
import time as _time
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock_time
from decimal import Decimal
from typing import Protocol

from lb_mcp.sdk.enums import (
    Market,
    OrderSide,
    OutsideRTH,
    TradeSession,
    TradeStatus,
    market_timezone,
)
from lb_mcp.sdk.errors import OpenApiException
from lb_mcp.sdk.trade.context import TradeContext
from lb_mcp.server.gate.guards import InstrumentFacts, QuoteFacts, UsageFacts
from lb_mcp.server.gate.intent import OrderIntent

log = logging.getLogger("lb_mcp.server.orders")

# (lowest, highest) value of one unit in HKD. HKD is pegged to USD inside 7.75-7.85.
_HKD_BAND: dict[str, tuple[Decimal, Decimal]] = {
    "HKD": (Decimal(1), Decimal(1)),
    "USD": (Decimal("7.75"), Decimal("7.85")),
}


def fx_to_base(currency: str, base: str) -> Decimal | None:
    """An upper bound for the value of one ``currency`` unit in ``base`` (None: no rate)."""
    currency, base = currency.upper(), base.upper()
    if currency == base:
        return Decimal(1)
    src, dst = _HKD_BAND.get(currency), _HKD_BAND.get(base)
    if src is None or dst is None:
        return None
    return src[1] / dst[0]


class QuoteLike(Protocol):
    @property
    def symbol(self) -> str: ...
    @property
    def last_done(self) -> Decimal: ...
    @property
    def prev_close(self) -> Decimal: ...
    @property
    def trade_status(self) -> TradeStatus: ...
    @property
    def timestamp(self) -> datetime: ...


class StaticLike(Protocol):
    @property
    def symbol(self) -> str: ...
    @property
    def name_en(self) -> str: ...
    @property
    def currency(self) -> str: ...
    @property
    def lot_size(self) -> int: ...


class PeriodLike(Protocol):
    @property
    def begin_time(self) -> clock_time: ...
    @property
    def end_time(self) -> clock_time: ...
    @property
    def trade_session(self) -> TradeSession: ...


class MarketSessionLike(Protocol):
    @property
    def market(self) -> Market: ...
    @property
    def trade_sessions(self) -> Sequence[PeriodLike]: ...


class TradingDaysLike(Protocol):
    @property
    def trading_days(self) -> Sequence[date]: ...
    @property
    def half_trading_days(self) -> Sequence[date]: ...


class QuoteSource(Protocol):
    """The part of ``QuoteContext`` the guards read."""

    async def quote(self, symbols: list[str]) -> Sequence[QuoteLike]: ...
    async def static_info(self, symbols: list[str]) -> Sequence[StaticLike]: ...
    async def trading_session(self) -> Sequence[MarketSessionLike]: ...
    async def trading_days(self, market: Market, begin: date, end: date) -> TradingDaysLike: ...


SESSION_TTL_S = 3600.0  # trading_session() periods change rarely; re-read them hourly
_ALL_SESSIONS = frozenset(TradeSession)


def order_sessions(outside_rth: OutsideRTH | None) -> frozenset[TradeSession]:
    """The sessions an order may trade in. Generous on purpose: only "closed for all" refuses."""
    if outside_rth is OutsideRTH.AnyTime:
        return frozenset({TradeSession.Intraday, TradeSession.Pre, TradeSession.Post})
    if outside_rth is OutsideRTH.Overnight:
        return _ALL_SESSIONS
    if outside_rth is OutsideRTH.OptionPreMarket:
        return frozenset({TradeSession.Intraday, TradeSession.Pre})
    return frozenset({TradeSession.Intraday})


@dataclass(frozen=True)
class _Period:
    begin: int  # minutes after local midnight
    end: int  # the end minute itself still counts: 00:00-23:59 is the whole day
    session: TradeSession


def _minutes(t: clock_time) -> int:
    return t.hour * 60 + t.minute


def _trading_day_of(period: _Period, minute: int, today: date) -> date | None:
    """The trading day ``minute`` (local) belongs to within ``period``; None if outside it."""
    if period.begin <= period.end:
        return today if period.begin <= minute <= period.end else None
    # Wraps past midnight (US overnight 20:00-03:50): the evening part opens the next day.
    if minute >= period.begin:
        return today + timedelta(days=1)
    return today if minute <= period.end else None


class SessionCalendar:
    """Is a market's session open at an instant, as the backend reports it (None: unknown).

    A half trading day counts like a full one: ``trading_session()`` does not give its early
    close, so an order after it is left to the broker to refuse.
    """

    def __init__(
        self,
        quotes: QuoteSource,
        *,
        ttl_s: float = SESSION_TTL_S,
        monotonic: Callable[[], float] = _time.monotonic,
    ) -> None:
        self._quotes = quotes
        self._ttl_s = ttl_s
        self._monotonic = monotonic
        self._table: dict[Market, tuple[_Period, ...]] | None = None
        self._loaded_at = 0.0
        self._days: dict[tuple[Market, date], frozenset[date]] = {}

    async def is_open(
        self, market: Market, sessions: frozenset[TradeSession], now: datetime
    ) -> bool | None:
        zone = market_timezone(market)
        table = await self._periods()
        if zone is None or table is None or market not in table:
            return None
        local = now.astimezone(zone)
        minute, today = _minutes(local.time()), local.date()
        candidates = [
            day
            for p in table[market]
            if p.session in sessions and (day := _trading_day_of(p, minute, today)) is not None
        ]
        if not candidates:
            return False
        days = await self._trading_days(market, today)
        if days is None:
            return None
        return any(day in days for day in candidates)

    async def _periods(self) -> dict[Market, tuple[_Period, ...]] | None:
        fresh = self._monotonic() - self._loaded_at < self._ttl_s
        if self._table is not None and fresh:
            return self._table
        try:
            rows = await self._quotes.trading_session()
        except OpenApiException as exc:
            log.warning("trading sessions unavailable: %s", exc)
            return None
        self._table = {
            row.market: tuple(
                _Period(_minutes(p.begin_time), _minutes(p.end_time), p.trade_session)
                for p in row.trade_sessions
            )
            for row in rows
        }
        self._loaded_at = self._monotonic()
        return self._table

    async def _trading_days(self, market: Market, today: date) -> frozenset[date] | None:
        """Trading days (full or half) among today and tomorrow, local to the market."""
        key = (market, today)
        if key not in self._days:
            try:
                answer = await self._quotes.trading_days(market, today, today + timedelta(1))
            except OpenApiException as exc:
                log.warning("trading days of %s unavailable: %s", market.value, exc)
                return None
            if len(self._days) > 32:  # old dates are never asked again
                self._days.clear()
            self._days[key] = frozenset(answer.trading_days) | frozenset(answer.half_trading_days)
        return self._days[key]


_calendars: weakref.WeakKeyDictionary[QuoteSource, SessionCalendar] = weakref.WeakKeyDictionary()


def calendar_for(quotes: QuoteSource) -> SessionCalendar:
    """The calendar cached with ``quotes`` (one per quote context, dropped with it)."""
    try:
        calendar = _calendars.get(quotes)
        if calendar is None:
            calendar = _calendars[quotes] = SessionCalendar(quotes)
        return calendar
    except TypeError:  # not weak-referenceable: no cache
        return SessionCalendar(quotes)


class FactsError(Exception):
    """The instrument itself is unknown to the backend (``code`` is stable)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


async def market_facts(
    quotes: QuoteSource,
    intent: OrderIntent,
    base_currency: str,
    *,
    now: datetime | None = None,
    calendar: SessionCalendar | None = None,
) -> tuple[QuoteFacts, InstrumentFacts]:
    try:
        statics = await quotes.static_info([intent.symbol])
    except OpenApiException as exc:
        raise FactsError(
            "QUOTE_UNAVAILABLE", f"cannot read {intent.symbol} from the broker: {exc.message}"
        ) from None
    info = next((s for s in statics if s.symbol == intent.symbol), None)
    if info is None or info.lot_size <= 0:
        raise FactsError("NO_INSTRUMENT", f"{intent.symbol} is not a known security")
    instrument = InstrumentFacts(
        lot_size=info.lot_size,
        currency=info.currency,
        name=info.name_en,
        fx_to_base=fx_to_base(info.currency, base_currency),
    )
    try:
        rows = await quotes.quote([intent.symbol])
    except OpenApiException as exc:
        log.warning("quote for %s failed: %s", intent.symbol, exc)
        return QuoteFacts(last=None), instrument
    row = next((q for q in rows if q.symbol == intent.symbol), None)
    if row is None:
        return QuoteFacts(last=None), instrument
    # A security that is not trading (halted, suspended...) has no open session; the HALTED
    # guard reports why.
    session_open: bool | None = False
    if row.trade_status is TradeStatus.Normal:
        session_open = await (calendar or calendar_for(quotes)).is_open(
            intent.market, order_sessions(intent.outside_rth), now or datetime.now(UTC)
        )
    quote = QuoteFacts(
        last=row.last_done if row.last_done > 0 else None,
        prev_close=row.prev_close if row.prev_close > 0 else None,
        trade_status=row.trade_status,
        session_open=session_open,
        as_of=row.timestamp,
    )
    return quote, instrument


async def capacity_facts(
    trade: TradeContext, intent: OrderIntent, orders_today: int, notional_today: Decimal
) -> UsageFacts:
    """Today's usage plus what the account can buy or sell; unknown capacity stays None."""
    max_buy: Decimal | None = None
    available: Decimal | None = None
    try:
        if intent.side is OrderSide.Buy:
            estimate = await trade.estimate_max_purchase_quantity(
                intent.symbol, intent.order_type, intent.side, price=intent.price
            )
            max_buy = estimate.margin_max_qty
        else:
            available = await _sellable(trade, intent.symbol)
    except OpenApiException as exc:
        log.warning("capacity check for %s failed: %s", intent.symbol, exc)
    return UsageFacts(
        orders_today=orders_today,
        notional_today=notional_today,
        max_buy_qty=max_buy,
        position_available=available,
    )


async def _sellable(trade: TradeContext, symbol: str) -> Decimal:
    response = await trade.stock_positions([symbol])
    held = [p for c in response.channels for p in c.positions if p.symbol == symbol]
    return sum((p.available_quantity for p in held), Decimal(0))


__all__ = [
    "SESSION_TTL_S",
    "FactsError",
    "QuoteSource",
    "SessionCalendar",
    "calendar_for",
    "capacity_facts",
    "fx_to_base",
    "market_facts",
    "order_sessions",
]
