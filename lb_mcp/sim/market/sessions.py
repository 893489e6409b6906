"""Trading hours and calendars for the simulator: ``always`` (24/7) or ``real`` (rest.md §9.2).

``always`` is what demos and tests use: every market trades around the clock, every calendar day,
and :func:`trading_session` says so (one 00:00-23:59 intraday period). ``real`` uses each market's
regular sessions in its own time zone, weekdays minus a small holiday list, with half days.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from typing import Final
from zoneinfo import ZoneInfo

from lb_mcp.sdk.enums import MARKET_TIMEZONES, Market, TradeSession


class Hours(StrEnum):
    ALWAYS = "always"
    REAL = "real"


@dataclass(frozen=True)
class TradePeriod:
    beg_time: int  # HHMM
    end_time: int  # HHMM
    trade_session: TradeSession


@dataclass(frozen=True)
class MarketSessions:
    market: Market
    periods: tuple[TradePeriod, ...]


MARKETS: Final[tuple[Market, ...]] = (Market.HK, Market.US, Market.CN, Market.SG)

_I, _PRE, _POST, _NIGHT = (
    TradeSession.Intraday,
    TradeSession.Pre,
    TradeSession.Post,
    TradeSession.Overnight,
)
_REAL: Final[dict[Market, tuple[TradePeriod, ...]]] = {
    Market.HK: (TradePeriod(930, 1200, _I), TradePeriod(1300, 1600, _I)),
    Market.US: (
        TradePeriod(930, 1600, _I),
        TradePeriod(400, 930, _PRE),
        TradePeriod(1600, 2000, _POST),
        TradePeriod(2000, 350, _NIGHT),
    ),
    Market.CN: (TradePeriod(930, 1130, _I), TradePeriod(1300, 1457, _I)),
    Market.SG: (TradePeriod(900, 1200, _I), TradePeriod(1300, 1700, _I)),
}
_HALF: Final[dict[Market, tuple[TradePeriod, ...]]] = {
    Market.HK: (TradePeriod(930, 1200, _I),),
    Market.US: (
        TradePeriod(930, 1300, _I),
        TradePeriod(400, 930, _PRE),
        TradePeriod(1300, 1700, _POST),
    ),
}


def _days(*items: str) -> frozenset[date]:
    return frozenset(date.fromisoformat(d) for d in items)


# A small, deliberately incomplete holiday list (2025-2027): enough to make calendars look real.
_HOLIDAYS: Final[dict[Market, frozenset[date]]] = {
    Market.HK: _days(
        "2025-01-01",
        "2025-01-29",
        "2025-01-30",
        "2025-01-31",
        "2025-04-04",
        "2025-04-18",
        "2025-04-21",
        "2025-05-01",
        "2025-05-05",
        "2025-07-01",
        "2025-10-01",
        "2025-10-07",
        "2025-10-29",
        "2025-12-25",
        "2025-12-26",
        "2026-01-01",
        "2026-02-17",
        "2026-02-18",
        "2026-02-19",
        "2026-04-03",
        "2026-04-06",
        "2026-04-07",
        "2026-05-01",
        "2026-05-25",
        "2026-06-19",
        "2026-07-01",
        "2026-10-01",
        "2026-10-19",
        "2026-12-25",
        "2027-01-01",
    ),
    Market.US: _days(
        "2025-01-01",
        "2025-01-09",
        "2025-01-20",
        "2025-02-17",
        "2025-04-18",
        "2025-05-26",
        "2025-06-19",
        "2025-07-04",
        "2025-09-01",
        "2025-11-27",
        "2025-12-25",
        "2026-01-01",
        "2026-01-19",
        "2026-02-16",
        "2026-04-03",
        "2026-05-25",
        "2026-06-19",
        "2026-07-03",
        "2026-09-07",
        "2026-11-26",
        "2026-12-25",
        "2027-01-01",
    ),
    Market.CN: _days(
        "2025-01-01",
        "2025-01-28",
        "2025-01-29",
        "2025-01-30",
        "2025-01-31",
        "2025-02-03",
        "2025-02-04",
        "2025-04-04",
        "2025-05-01",
        "2025-05-02",
        "2025-05-05",
        "2025-06-02",
        "2025-10-01",
        "2025-10-02",
        "2025-10-03",
        "2025-10-06",
        "2025-10-07",
        "2025-10-08",
        "2026-01-01",
        "2026-01-02",
        "2026-02-16",
        "2026-02-17",
        "2026-02-18",
        "2026-02-19",
        "2026-02-20",
        "2026-04-06",
        "2026-05-01",
        "2026-05-04",
        "2026-05-05",
        "2026-06-19",
        "2026-10-01",
        "2026-10-02",
        "2026-10-05",
        "2026-10-06",
        "2026-10-07",
        "2027-01-01",
    ),
    Market.SG: _days(
        "2025-01-01",
        "2025-01-29",
        "2025-01-30",
        "2025-03-31",
        "2025-04-18",
        "2025-05-01",
        "2025-05-12",
        "2025-06-09",
        "2025-08-09",
        "2025-10-20",
        "2025-12-25",
        "2026-01-01",
        "2026-02-17",
        "2026-02-18",
        "2026-03-20",
        "2026-04-03",
        "2026-05-01",
        "2026-05-27",
        "2026-06-01",
        "2026-08-10",
        "2026-11-09",
        "2026-12-25",
        "2027-01-01",
    ),
}
_HALF_DAYS: Final[dict[Market, frozenset[date]]] = {
    Market.HK: _days("2025-12-24", "2025-12-31", "2026-02-16", "2026-12-24", "2026-12-31"),
    Market.US: _days("2025-07-03", "2025-11-28", "2025-12-24", "2026-11-27", "2026-12-24"),
}


def market_tz(market: Market) -> ZoneInfo:
    return MARKET_TIMEZONES.get(market, MARKET_TIMEZONES[Market.HK])


def local_date(market: Market, ts: float) -> date:
    return datetime.fromtimestamp(ts, market_tz(market)).date()


def local_midnight(market: Market, day: date) -> int:
    """Epoch seconds of 00:00 local time on ``day`` (the timestamp of a daily bar)."""
    return int(datetime.combine(day, time(0), market_tz(market)).timestamp())


def trading_session(hours: Hours) -> tuple[MarketSessions, ...]:
    if hours is Hours.ALWAYS:
        return tuple(MarketSessions(m, (TradePeriod(0, 2359, _I),)) for m in MARKETS)
    return tuple(MarketSessions(m, _REAL[m]) for m in MARKETS)


def is_trading_day(market: Market, day: date, hours: Hours) -> bool:
    if hours is Hours.ALWAYS:
        return True
    return day.weekday() < 5 and day not in _HOLIDAYS.get(market, frozenset())


def is_half_day(market: Market, day: date, hours: Hours) -> bool:
    return hours is Hours.REAL and day in _HALF_DAYS.get(market, frozenset())


def trading_days(
    market: Market, begin: date, end: date, hours: Hours
) -> tuple[list[date], list[date]]:
    """(full trading days, half trading days) in ``[begin, end]``, ascending."""
    full: list[date] = []
    half: list[date] = []
    day = begin
    while day <= end:
        if is_trading_day(market, day, hours):
            (half if is_half_day(market, day, hours) else full).append(day)
        day += timedelta(days=1)
    return full, half


def _hhmm(moment: datetime) -> int:
    return moment.hour * 100 + moment.minute


def session_at(market: Market, ts: float, hours: Hours) -> TradeSession | None:
    """The session trading at ``ts``, or ``None`` when the market is closed."""
    if hours is Hours.ALWAYS:
        return TradeSession.Intraday
    moment = datetime.fromtimestamp(ts, market_tz(market))
    today = moment.date()
    hhmm = _hhmm(moment)
    if market is Market.US:
        # The overnight session belongs to the *next* trading day (rest.md §9.2).
        tomorrow = today + timedelta(days=1)
        if hhmm >= 2000 and is_trading_day(market, tomorrow, hours):
            return TradeSession.Overnight
        if hhmm < 350 and is_trading_day(market, today, hours):
            return TradeSession.Overnight
    if not is_trading_day(market, today, hours):
        return None
    periods = _HALF[market] if is_half_day(market, today, hours) and market in _HALF else None
    for period in periods or _REAL.get(market, ()):
        if period.trade_session is TradeSession.Overnight:
            continue
        if period.beg_time <= hhmm < period.end_time:
            return period.trade_session
    return None


def is_regular_session(market: Market, ts: float, hours: Hours) -> bool:
    return session_at(market, ts, hours) is TradeSession.Intraday


def regular_windows(market: Market, day: date, hours: Hours) -> list[tuple[int, int]]:
    """``[start, end)`` epoch-second spans of ``day``'s regular (intraday) session, ascending:
    the whole local day in ``always`` hours, nothing on a non-trading day. Agrees with
    :func:`session_at` minute by minute."""
    if hours is Hours.ALWAYS:
        return [(local_midnight(market, day), local_midnight(market, day + timedelta(days=1)))]
    if not is_trading_day(market, day, hours):
        return []
    periods = _HALF[market] if is_half_day(market, day, hours) and market in _HALF else None
    zone = market_tz(market)
    spans: list[tuple[int, int]] = []
    for period in periods or _REAL.get(market, ()):
        if period.trade_session is not TradeSession.Intraday:
            continue
        beg = time(period.beg_time // 100, period.beg_time % 100)
        end = time(period.end_time // 100, period.end_time % 100)
        start = int(datetime.combine(day, beg, zone).timestamp())
        spans.append((start, int(datetime.combine(day, end, zone).timestamp())))
    return sorted(spans)


__all__ = [
    "Hours",
    "MarketSessions",
    "TradePeriod",
    "is_half_day",
    "is_regular_session",
    "is_trading_day",
    "local_date",
    "local_midnight",
    "market_tz",
    "regular_windows",
    "session_at",
    "trading_days",
    "trading_session",
]
