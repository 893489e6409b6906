"""Frozen market-data values the simulator serves (quote socket payloads, before protobuf).

Prices and amounts are ``Decimal``; timestamps are int epoch seconds (UTC); volumes are ints.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from lb_mcp.sdk.enums import TradeDirection, TradeSession, TradeStatus


@dataclass(frozen=True)
class Quote:
    symbol: str
    last_done: Decimal
    prev_close: Decimal
    open: Decimal
    high: Decimal
    low: Decimal
    timestamp: int
    volume: int
    turnover: Decimal
    trade_status: TradeStatus  # the security's listing status (always Normal here)
    trade_session: TradeSession
    market_open: bool  # regular session in progress (the only time the sim trades)
    sequence: int


@dataclass(frozen=True)
class StaticInfo:
    symbol: str
    name_cn: str
    name_en: str
    name_hk: str
    listing_date: str
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
    stock_derivatives: tuple[int, ...]
    board: str


@dataclass(frozen=True)
class DepthLevel:
    position: int
    price: Decimal
    volume: int
    order_num: int


@dataclass(frozen=True)
class Depth:
    symbol: str
    asks: tuple[DepthLevel, ...]
    bids: tuple[DepthLevel, ...]


@dataclass(frozen=True)
class BrokerLevel:
    position: int
    broker_ids: tuple[int, ...]


@dataclass(frozen=True)
class Brokers:
    symbol: str
    ask_brokers: tuple[BrokerLevel, ...]
    bid_brokers: tuple[BrokerLevel, ...]


@dataclass(frozen=True)
class TradeTick:
    price: Decimal
    volume: int
    timestamp: int
    trade_type: str
    direction: TradeDirection
    trade_session: TradeSession


@dataclass(frozen=True)
class IntradayLine:
    price: Decimal
    timestamp: int
    volume: int
    turnover: Decimal
    avg_price: Decimal


@dataclass(frozen=True)
class MarketEvent:
    """What changed for one symbol; pull the new state with ``quote()``/``depth()``/…"""

    symbol: str
    sequence: int
    timestamp: int
    quote_changed: bool
    depth_changed: bool
    brokers_changed: bool
    trades: tuple[TradeTick, ...]
    current_volume: int
    current_turnover: Decimal
    from_fill: bool = False  # caused by a fill of the simulated account


__all__ = [
    "BrokerLevel",
    "Brokers",
    "Depth",
    "DepthLevel",
    "IntradayLine",
    "MarketEvent",
    "Quote",
    "StaticInfo",
    "TradeTick",
]
