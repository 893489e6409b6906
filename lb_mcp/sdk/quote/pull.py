"""Quote protobuf messages from pull responses -> :mod:`lb_mcp.sdk.quote.models`.

Wire conventions (protocol.md §5.4): decimals travel as strings and are parsed with
``Decimal(text)`` (empty or unparsable -> 0, as the official SDK; depth price -> None), times
are epoch seconds (-> UTC ``datetime``), dates ``YYYYMMDD`` and session times ``HHMM`` ints.
Unknown enum numbers fall back to the first member, like the SDK. The scalar and level
converters here are shared with the push side (:mod:`lb_mcp.sdk.quote.push`).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from decimal import Decimal, InvalidOperation
from enum import IntEnum
from typing import Any, TypeVar

from lb_mcp.sdk.enums import Market, TradeDirection, TradeSession, TradeStatus
from lb_mcp.sdk.errors import ProtocolError
from lb_mcp.sdk.quote.models import (
    Brokers,
    Candlestick,
    Depth,
    IntradayLine,
    MarketTradingDays,
    MarketTradingSession,
    PrePostQuote,
    SecurityBrokers,
    SecurityDepth,
    SecurityQuote,
    SecurityStaticInfo,
    Trade,
    TradingSessionInfo,
    utc_from_epoch,
)

E = TypeVar("E", bound=IntEnum)

_ZERO = Decimal(0)
_TRADE_STATUS = {int(member): member for member in TradeStatus}


# ---------------------------------------------------------------------------- scalars


def dec(text: str) -> Decimal:
    """A wire decimal string; empty or unparsable -> 0 (the SDK's lenient rule)."""
    if not text:
        return _ZERO
    try:
        value = Decimal(text)
    except InvalidOperation:
        return _ZERO
    return value if value.is_finite() else _ZERO


def opt_dec(text: str) -> Decimal | None:
    """A wire decimal string where empty means "none" (depth price)."""
    if not text:
        return None
    try:
        value = Decimal(text)
    except InvalidOperation:
        return None
    return value if value.is_finite() else None


def enum_or_default(kind: type[E], value: int) -> E:
    try:
        return kind(value)
    except ValueError:
        return next(iter(kind))


def yyyymmdd(text: str) -> date:
    try:
        return datetime.strptime(text, "%Y%m%d").replace(tzinfo=UTC).date()
    except ValueError:
        raise ProtocolError(f"not a YYYYMMDD date: {text!r}") from None


def hhmm(value: int) -> time:
    hours, minutes = divmod(value, 100)
    if not (0 <= hours <= 24 and 0 <= minutes < 60) or (hours == 24 and minutes):
        raise ProtocolError(f"not an HHMM time: {value}")
    return time(0, 0) if hours == 24 else time(hours, minutes)


# ---------------------------------------------------------------------------- pull responses


def pre_post_quote(message: Any) -> PrePostQuote:
    return PrePostQuote(
        last_done=dec(message.last_done),
        timestamp=utc_from_epoch(message.timestamp),
        volume=message.volume,
        turnover=dec(message.turnover),
        high=dec(message.high),
        low=dec(message.low),
        prev_close=dec(message.prev_close),
    )


def _optional_pre_post(message: Any, name: str) -> PrePostQuote | None:
    return pre_post_quote(getattr(message, name)) if message.HasField(name) else None


def _prices(*texts: str) -> list[Decimal]:
    """Several wire decimals at once, as :func:`dec` each, but one call on the common path."""
    try:
        values = [Decimal(text) if text else _ZERO for text in texts]
    except InvalidOperation:
        return [dec(text) for text in texts]
    if all(value.is_finite() for value in values):
        return values
    return [dec(text) for text in texts]


def security_quote(message: Any) -> SecurityQuote:
    last_done, prev_close, open_, high, low, turnover = _prices(
        message.last_done,
        message.prev_close,
        message.open,
        message.high,
        message.low,
        message.turnover,
    )
    return SecurityQuote(
        symbol=message.symbol,
        last_done=last_done,
        prev_close=prev_close,
        open=open_,
        high=high,
        low=low,
        timestamp=utc_from_epoch(message.timestamp),
        volume=message.volume,
        turnover=turnover,
        trade_status=_TRADE_STATUS.get(message.trade_status, TradeStatus.Normal),
        pre_market_quote=_optional_pre_post(message, "pre_market_quote"),
        post_market_quote=_optional_pre_post(message, "post_market_quote"),
        overnight_quote=_optional_pre_post(message, "over_night_quote"),
    )


def static_info(message: Any) -> SecurityStaticInfo:
    return SecurityStaticInfo(
        symbol=message.symbol,
        name_cn=message.name_cn,
        name_en=message.name_en,
        name_hk=message.name_hk,
        exchange=message.exchange,
        currency=message.currency,
        lot_size=message.lot_size,
        total_shares=message.total_shares,
        circulating_shares=message.circulating_shares,
        hk_shares=message.hk_shares,
        eps=dec(message.eps),
        eps_ttm=dec(message.eps_ttm),
        bps=dec(message.bps),
        dividend_yield=dec(message.dividend_yield),
        stock_derivatives=list(message.stock_derivatives),
        board=message.board,
    )


def depth_level(message: Any) -> Depth:
    return Depth(
        position=message.position,
        price=opt_dec(message.price),
        volume=message.volume,
        order_num=message.order_num,
    )


def security_depth(message: Any) -> SecurityDepth:
    return SecurityDepth(
        asks=[depth_level(m) for m in message.ask], bids=[depth_level(m) for m in message.bid]
    )


def brokers_level(message: Any) -> Brokers:
    return Brokers(position=message.position, broker_ids=list(message.broker_ids))


def security_brokers(message: Any) -> SecurityBrokers:
    return SecurityBrokers(
        ask_brokers=[brokers_level(m) for m in message.ask_brokers],
        bid_brokers=[brokers_level(m) for m in message.bid_brokers],
    )


def trade(message: Any) -> Trade:
    return Trade(
        price=dec(message.price),
        volume=message.volume,
        timestamp=utc_from_epoch(message.timestamp),
        trade_type=message.trade_type,
        direction=enum_or_default(TradeDirection, message.direction),
        trade_session=enum_or_default(TradeSession, message.trade_session),
    )


def intraday_line(message: Any) -> IntradayLine:
    return IntradayLine(
        price=dec(message.price),
        timestamp=utc_from_epoch(message.timestamp),
        volume=message.volume,
        turnover=dec(message.turnover),
        avg_price=dec(message.avg_price),
    )


def candlestick(message: Any) -> Candlestick:
    return Candlestick(
        close=dec(message.close),
        open=dec(message.open),
        low=dec(message.low),
        high=dec(message.high),
        volume=message.volume,
        turnover=dec(message.turnover),
        timestamp=utc_from_epoch(message.timestamp),
        trade_session=enum_or_default(TradeSession, message.trade_session),
    )


def market_trading_session(message: Any) -> MarketTradingSession:
    return MarketTradingSession(
        market=Market.parse(message.market),
        trade_sessions=[
            TradingSessionInfo(
                begin_time=hhmm(period.beg_time),
                end_time=hhmm(period.end_time),
                trade_session=enum_or_default(TradeSession, period.trade_session),
            )
            for period in message.trade_session
        ],
    )


def market_trading_days(message: Any) -> MarketTradingDays:
    return MarketTradingDays(
        trading_days=[yyyymmdd(d) for d in message.trade_day],
        half_trading_days=[yyyymmdd(d) for d in message.half_trade_day],
    )


__all__ = [
    "brokers_level",
    "candlestick",
    "dec",
    "depth_level",
    "enum_or_default",
    "hhmm",
    "intraday_line",
    "market_trading_days",
    "market_trading_session",
    "opt_dec",
    "pre_post_quote",
    "security_brokers",
    "security_depth",
    "security_quote",
    "static_info",
    "trade",
    "yyyymmdd",
]
