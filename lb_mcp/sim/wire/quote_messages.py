"""The simulator's market dataclasses as quote-socket protobuf messages (protocol.md §5.5, §8).

Pure functions, no I/O: the quote server answers pulls and builds pushes with these, so the REST
side and the socket side serve one market model. Decimals go out as plain strings without an
exponent (``format(value, "f")``), times as epoch seconds, dates as ``YYYYMMDD``.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from typing import Any

from lb_mcp.sdk.wire.proto import quote_pb2
from lb_mcp.sdk.wire.scalars import pb_enum, text, ymd
from lb_mcp.sim.market.bars import Candle
from lb_mcp.sim.market.sessions import MarketSessions
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


def serialize(message: Any) -> bytes:
    return bytes(message.SerializeToString())


# ---------------------------------------------------------------------------- pulls


def security_quote(quote: Quote) -> Any:
    return quote_pb2.SecurityQuote(
        symbol=quote.symbol,
        last_done=text(quote.last_done),
        prev_close=text(quote.prev_close),
        open=text(quote.open),
        high=text(quote.high),
        low=text(quote.low),
        timestamp=quote.timestamp,
        volume=quote.volume,
        turnover=text(quote.turnover),
        trade_status=pb_enum(quote.trade_status),
    )


def static_info(info: StaticInfo) -> Any:
    return quote_pb2.StaticInfo(
        symbol=info.symbol,
        name_cn=info.name_cn,
        name_en=info.name_en,
        name_hk=info.name_hk,
        listing_date=info.listing_date,
        exchange=info.exchange,
        currency=info.currency,
        lot_size=info.lot_size,
        total_shares=info.total_shares,
        circulating_shares=info.circulating_shares,
        hk_shares=info.hk_shares,
        eps=text(info.eps),
        eps_ttm=text(info.eps_ttm),
        bps=text(info.bps),
        dividend_yield=text(info.dividend_yield),
        stock_derivatives=list(info.stock_derivatives),
        board=info.board,
    )


def depth_levels(levels: Iterable[DepthLevel]) -> list[Any]:
    return [
        quote_pb2.Depth(
            position=level.position,
            price=text(level.price),
            volume=level.volume,
            order_num=level.order_num,
        )
        for level in levels
    ]


def security_depth(depth: Depth) -> Any:
    return quote_pb2.SecurityDepthResponse(
        symbol=depth.symbol, ask=depth_levels(depth.asks), bid=depth_levels(depth.bids)
    )


def broker_levels(levels: Iterable[BrokerLevel]) -> list[Any]:
    return [
        quote_pb2.Brokers(position=level.position, broker_ids=list(level.broker_ids))
        for level in levels
    ]


def security_brokers(brokers: Brokers) -> Any:
    return quote_pb2.SecurityBrokersResponse(
        symbol=brokers.symbol,
        ask_brokers=broker_levels(brokers.ask_brokers),
        bid_brokers=broker_levels(brokers.bid_brokers),
    )


def trade(tick: TradeTick) -> Any:
    return quote_pb2.Trade(
        price=text(tick.price),
        volume=tick.volume,
        timestamp=tick.timestamp,
        trade_type=tick.trade_type,
        direction=int(tick.direction),
        trade_session=pb_enum(tick.trade_session),
    )


def security_trades(symbol: str, ticks: Iterable[TradeTick]) -> Any:
    return quote_pb2.SecurityTradeResponse(symbol=symbol, trades=[trade(t) for t in ticks])


def security_intraday(symbol: str, lines: Iterable[IntradayLine]) -> Any:
    return quote_pb2.SecurityIntradayResponse(
        symbol=symbol,
        lines=[
            quote_pb2.Line(
                price=text(line.price),
                timestamp=line.timestamp,
                volume=line.volume,
                turnover=text(line.turnover),
                avg_price=text(line.avg_price),
            )
            for line in lines
        ],
    )


def security_candlesticks(symbol: str, candles: Iterable[Candle]) -> Any:
    return quote_pb2.SecurityCandlestickResponse(
        symbol=symbol,
        candlesticks=[
            quote_pb2.Candlestick(
                close=text(c.close),
                open=text(c.open),
                low=text(c.low),
                high=text(c.high),
                volume=c.volume,
                turnover=text(c.turnover),
                timestamp=c.timestamp,
                trade_session=pb_enum(c.trade_session),
            )
            for c in candles
        ],
    )


def market_trade_periods(sessions: Iterable[MarketSessions]) -> Any:
    return quote_pb2.MarketTradePeriodResponse(
        market_trade_session=[
            quote_pb2.MarketTradePeriod(
                market=s.market.value,
                trade_session=[
                    quote_pb2.TradePeriod(
                        beg_time=p.beg_time,
                        end_time=p.end_time,
                        trade_session=pb_enum(p.trade_session),
                    )
                    for p in s.periods
                ],
            )
            for s in sessions
        ]
    )


def market_trade_days(days: Iterable[date], half_days: Iterable[date]) -> Any:
    return quote_pb2.MarketTradeDayResponse(
        trade_day=[ymd(d) for d in days], half_trade_day=[ymd(d) for d in half_days]
    )


def user_profile(member_id: int, rate_limits: Iterable[tuple[int, int, int]], now: int) -> Any:
    """cmd 4: ``member_id``, a quote level, one package and a token bucket per pull command."""
    package = quote_pb2.UserQuoteLevelDetail.PackageDetail(
        key="SIM_LV1",
        name="Simulator Level 1",
        description="lb-mcp simulator quotes (not real market data)",
        start=now - 86_400,
        end=now + 365 * 86_400,
    )
    by_market = {
        market: quote_pb2.UserQuoteLevelDetail.MarketPackageDetail(packages=[package])
        for market in ("HK", "US", "CN")
    }
    return quote_pb2.UserQuoteProfileResponse(
        member_id=member_id,
        quote_level="LV1",
        subscribe_limit=500,
        history_candlestick_limit=1000,
        rate_limit=[
            quote_pb2.RateLimit(command=pb_enum(cmd), limit=limit, burst=burst)
            for cmd, limit, burst in rate_limits
        ],
        quote_level_detail=quote_pb2.UserQuoteLevelDetail(
            by_package_key={package.key: package}, by_market_code=by_market
        ),
    )


# ---------------------------------------------------------------------------- pushes


def push_quote(quote: Quote, sequence: int, event: MarketEvent | None = None) -> Any:
    """A full PushQuote snapshot; ``event`` adds the volume/turnover of its prints."""
    return quote_pb2.PushQuote(
        symbol=quote.symbol,
        sequence=sequence,
        last_done=text(quote.last_done),
        open=text(quote.open),
        high=text(quote.high),
        low=text(quote.low),
        timestamp=quote.timestamp,
        volume=quote.volume,
        turnover=text(quote.turnover),
        trade_status=pb_enum(quote.trade_status),
        trade_session=pb_enum(quote.trade_session),
        current_volume=event.current_volume if event else 0,
        current_turnover=text(event.current_turnover) if event else "0",
    )


def push_depth(depth: Depth, sequence: int) -> Any:
    return quote_pb2.PushDepth(
        symbol=depth.symbol,
        sequence=sequence,
        ask=depth_levels(depth.asks),
        bid=depth_levels(depth.bids),
    )


def push_brokers(brokers: Brokers, sequence: int) -> Any:
    return quote_pb2.PushBrokers(
        symbol=brokers.symbol,
        sequence=sequence,
        ask_brokers=broker_levels(brokers.ask_brokers),
        bid_brokers=broker_levels(brokers.bid_brokers),
    )


def push_trade(symbol: str, ticks: Iterable[TradeTick], sequence: int) -> Any:
    return quote_pb2.PushTrade(symbol=symbol, sequence=sequence, trade=[trade(t) for t in ticks])


__all__ = [
    "market_trade_days",
    "market_trade_periods",
    "push_brokers",
    "push_depth",
    "push_quote",
    "push_trade",
    "security_brokers",
    "security_candlesticks",
    "security_depth",
    "security_intraday",
    "security_quote",
    "security_trades",
    "serialize",
    "static_info",
    "user_profile",
]
