"""Quote-side models with the official SDK's attribute names (``longbridge.openapi`` 5.3).

Prices are ``Decimal``; times are timezone-aware UTC ``datetime``. The wire (protobuf) carries
decimals as strings and times as epoch seconds; conversion lives with the codec users, not here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field

from lb_mcp.sdk.enums import Market, Period, SubType, TradeDirection, TradeSession, TradeStatus
from lb_mcp.sdk.errors import ProtocolError


class _Frozen(BaseModel):
    # Validators are built on first use, not at import (start-up time; see WireModel).
    model_config = ConfigDict(frozen=True, defer_build=True)


def utc_from_epoch(seconds: int) -> datetime:
    """Epoch seconds -> aware UTC datetime; ProtocolError for a value datetime cannot hold.

    The wire's int64 reaches far past year 9999: ``fromtimestamp`` then raises OverflowError,
    OSError or ValueError depending on the platform. Only ProtocolError may leave the codec, so a
    bad push is dropped and counted and a bad pulled quote becomes a clean tool error.
    """
    try:
        return datetime.fromtimestamp(seconds, tz=UTC)
    except (OverflowError, OSError, ValueError) as exc:
        raise ProtocolError(f"timestamp {seconds} is out of range") from exc


class PrePostQuote(_Frozen):
    last_done: Decimal
    timestamp: datetime
    volume: int
    turnover: Decimal
    high: Decimal
    low: Decimal
    prev_close: Decimal


class SecurityQuote(_Frozen):
    symbol: str
    last_done: Decimal
    prev_close: Decimal
    open: Decimal
    high: Decimal
    low: Decimal
    timestamp: datetime
    volume: int
    turnover: Decimal
    trade_status: TradeStatus
    pre_market_quote: PrePostQuote | None = None
    post_market_quote: PrePostQuote | None = None
    overnight_quote: PrePostQuote | None = None


class SecurityStaticInfo(_Frozen):
    symbol: str
    name_cn: str
    name_en: str
    name_hk: str
    exchange: str
    currency: str
    lot_size: int
    total_shares: int
    circulating_shares: int
    hk_shares: int
    eps: Decimal
    eps_ttm: Decimal
    bps: Decimal
    dividend_yield: Decimal
    stock_derivatives: list[int] = Field(default_factory=list)
    board: str


class Depth(_Frozen):
    position: int
    price: Decimal | None
    volume: int
    order_num: int


class SecurityDepth(_Frozen):
    asks: list[Depth]
    bids: list[Depth]


class Brokers(_Frozen):
    position: int
    broker_ids: list[int]


class SecurityBrokers(_Frozen):
    ask_brokers: list[Brokers]
    bid_brokers: list[Brokers]


class Trade(_Frozen):
    price: Decimal
    volume: int
    timestamp: datetime
    trade_type: str
    direction: TradeDirection
    trade_session: TradeSession


class IntradayLine(_Frozen):
    price: Decimal
    timestamp: datetime
    volume: int
    turnover: Decimal
    avg_price: Decimal


class Candlestick(_Frozen):
    close: Decimal
    open: Decimal
    low: Decimal
    high: Decimal
    volume: int
    turnover: Decimal
    timestamp: datetime
    trade_session: TradeSession


class TradingSessionInfo(_Frozen):
    begin_time: time
    end_time: time
    trade_session: TradeSession


class MarketTradingSession(_Frozen):
    market: Market
    trade_sessions: list[TradingSessionInfo]


class MarketTradingDays(_Frozen):
    trading_days: list[date]
    half_trading_days: list[date]


@dataclass(frozen=True, slots=True)
class PushQuote:
    """A quote push merged into the last known state (zero fields mean "unchanged" on the wire).

    A slotted dataclass rather than a pydantic model: it is built once per push on the hot path
    from values the codec already typed, and validation there cost more than the rest of the
    pipeline together.
    """

    last_done: Decimal
    open: Decimal
    high: Decimal
    low: Decimal
    timestamp: datetime
    volume: int
    turnover: Decimal
    trade_status: TradeStatus
    trade_session: TradeSession
    current_volume: int
    current_turnover: Decimal
    # Not in the official model: the push's sequence, kept so consumers can reason about gaps.
    sequence: int = 0


class PushDepth(_Frozen):
    asks: list[Depth]
    bids: list[Depth]
    sequence: int = 0


class PushBrokers(_Frozen):
    ask_brokers: list[Brokers]
    bid_brokers: list[Brokers]
    sequence: int = 0


class PushTrades(_Frozen):
    trades: list[Trade]
    sequence: int = 0


class PushCandlestick(_Frozen):
    """A candlestick built locally from quote / trade pushes (there is no candlestick push on
    the wire, protocol.md §5.2): ``is_confirmed`` once a later bar has started."""

    period: Period
    candlestick: Candlestick
    is_confirmed: bool


class RealtimeQuote(_Frozen):
    """A quote from the local push store (``realtime_quote``); never pulled."""

    symbol: str
    last_done: Decimal
    open: Decimal
    high: Decimal
    low: Decimal
    timestamp: datetime
    volume: int
    turnover: Decimal
    trade_status: TradeStatus


class Subscription(_Frozen):
    symbol: str
    sub_types: list[SubType]
    candlesticks: list[Period] = Field(default_factory=list)


__all__ = [
    "Brokers",
    "Candlestick",
    "Depth",
    "IntradayLine",
    "MarketTradingDays",
    "MarketTradingSession",
    "PrePostQuote",
    "PushBrokers",
    "PushCandlestick",
    "PushDepth",
    "PushQuote",
    "PushTrades",
    "RealtimeQuote",
    "SecurityBrokers",
    "SecurityDepth",
    "SecurityQuote",
    "SecurityStaticInfo",
    "Subscription",
    "Trade",
    "TradingSessionInfo",
    "utc_from_epoch",
]
