"""Market-data pull tools (official SDK names): quote, static_info, depth, trades, intraday,
candlesticks, trading_session, trading_days. One shared QuoteContext serves them all."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Annotated, Literal

from mcp.server.mcpserver import MCPServer
from pydantic import Field

from lb_mcp.sdk.enums import AdjustType, Market, Mode, Period, market_of, market_timezone
from lb_mcp.sdk.quote.models import Depth, SecurityQuote
from lb_mcp.server.context import AppContext, AppCtx, QuoteSource, app_of
from lb_mcp.server.errors import ToolFailure
from lb_mcp.server.output import (
    PERIODS,
    READ_BROKER,
    BrokerText,
    Money,
    Out,
    PeriodArg,
    SymbolArg,
    SymbolsArg,
    UtcTime,
    parse_date_arg,
    parse_symbol,
    parse_symbols,
)
from lb_mcp.server.streams.freshness import judge

CENT = Decimal("0.01")


class QuoteOut(Out):
    symbol: str
    last_done: Money
    prev_close: Money
    open: Money
    high: Money
    low: Money
    change_pct: Money | None = Field(description="% change from prev_close, 2 decimals")
    volume: int
    turnover: Money
    trade_status: str
    timestamp: UtcTime
    age_s: float = Field(description="seconds since the exchange timestamp")
    stale: bool = Field(description="market open but the exchange time is old")

    @classmethod
    def from_sdk(cls, q: SecurityQuote) -> QuoteOut:
        # Just pulled: only the exchange time can be old (received_at is now).
        now = datetime.now(UTC)
        age_s, stale = judge(q.symbol, q.timestamp, q.timestamp, now)
        change = None
        if q.prev_close:
            change = ((q.last_done - q.prev_close) * 100 / q.prev_close).quantize(CENT)
        return cls(
            symbol=q.symbol,
            last_done=q.last_done,
            prev_close=q.prev_close,
            open=q.open,
            high=q.high,
            low=q.low,
            change_pct=change,
            volume=q.volume,
            turnover=q.turnover,
            trade_status=q.trade_status.name,
            timestamp=q.timestamp,
            age_s=age_s,
            stale=stale,
        )


class QuoteResult(Out):
    quotes: list[QuoteOut]
    unknown: list[str] = Field(description="requested symbols the broker does not know")


class StaticOut(Out):
    symbol: str
    name: BrokerText
    name_cn: BrokerText
    exchange: str
    currency: str
    lot_size: int
    board: str
    total_shares: int
    circulating_shares: int
    eps: Money
    eps_ttm: Money
    bps: Money
    # The broker calls it ``dividend_yield`` but sends the dividend per share (protocol.md),
    # in the security's currency: named for what it is, so no one reads 3.40 as 3.40 %.
    dividend_per_share: Money = Field(description="dividend per share, in `currency`")


class StaticInfoResult(Out):
    securities: list[StaticOut]
    unknown: list[str]
    note: str | None = None  # sandbox: the simulator's data is not market data


class LevelOut(Out):
    position: int
    price: Money | None
    volume: int
    order_num: int


class DepthResult(Out):
    symbol: str
    asks: list[LevelOut]
    bids: list[LevelOut]


class TradeOut(Out):
    price: Money
    volume: int
    timestamp: UtcTime
    direction: str
    trade_type: str
    session: str


class TradesResult(Out):
    symbol: str
    trades: list[TradeOut]


class IntradayOut(Out):
    timestamp: UtcTime
    price: Money
    avg_price: Money
    volume: int
    turnover: Money


class IntradayResult(Out):
    symbol: str
    lines: list[IntradayOut]
    total: int = Field(description="lines available today; only the last `limit` are returned")


class BarOut(Out):
    timestamp: UtcTime
    date: str | None = Field(
        default=None,
        description="trading day in the exchange's time zone (YYYY-MM-DD), for day or longer bars",
    )
    open: Money
    high: Money
    low: Money
    close: Money
    volume: int
    turnover: Money


class BarsSummary(Out):
    """The whole requested series in one line: what a model usually wants from 1000 bars."""

    bars: int
    first: UtcTime
    last: UtcTime
    open: Money
    high: Money
    low: Money
    close: Money
    change_pct: Money | None
    volume: int
    turnover: Money


class CandlesticksResult(Out):
    symbol: str
    period: str
    adjusted: bool
    bars: list[BarOut]
    summary: BarsSummary | None = None


def summarize(bars: Sequence[BarOut]) -> BarsSummary | None:
    if not bars:
        return None
    first, last = bars[0], bars[-1]
    change = None
    if first.open:
        change = ((last.close - first.open) * 100 / first.open).quantize(CENT)
    return BarsSummary(
        bars=len(bars),
        first=first.timestamp,
        last=last.timestamp,
        open=first.open,
        high=max(b.high for b in bars),
        low=min(b.low for b in bars),
        close=last.close,
        change_pct=change,
        volume=sum(b.volume for b in bars),
        turnover=sum((b.turnover for b in bars), Decimal(0)),
    )


class SessionOut(Out):
    session: str
    begin: str = Field(description="local exchange time HH:MM:SS")
    end: str


class MarketSessionsOut(Out):
    market: str
    sessions: list[SessionOut]


class TradingSessionResult(Out):
    markets: list[MarketSessionsOut]


class TradingDaysResult(Out):
    market: str
    trading_days: list[str]
    half_trading_days: list[str]


def _levels(levels: Sequence[Depth]) -> list[LevelOut]:
    return [
        LevelOut(position=d.position, price=d.price, volume=d.volume, order_num=d.order_num)
        for d in levels
    ]


def _market_symbol(symbol: str) -> str:
    return parse_symbol(symbol)


async def fetch_quotes(
    quote: QuoteSource, symbols: list[str]
) -> tuple[list[SecurityQuote], list[str]]:
    """Quotes for known symbols plus the list of unknown ones; all unknown → UNKNOWN_SYMBOL."""
    quotes = list(await quote.quote(symbols))
    known = {q.symbol for q in quotes}
    unknown = [s for s in symbols if s not in known]
    if not quotes:
        raise ToolFailure(
            "UNKNOWN_SYMBOL",
            f"no quote for {', '.join(unknown[:5])}: check the symbol (TICKER.MARKET, e.g. "
            "700.HK) with static_info",
        )
    return quotes, unknown


def register(mcp: MCPServer[AppContext]) -> None:
    @mcp.tool(annotations=READ_BROKER, title="Real-time quotes")
    async def quote(ctx: AppCtx, symbols: SymbolsArg) -> QuoteResult:
        """Latest price, day range, volume and % change of up to 500 symbols."""
        quotes, unknown = await fetch_quotes(app_of(ctx).quote, parse_symbols(symbols))
        return QuoteResult(quotes=[QuoteOut.from_sdk(q) for q in quotes], unknown=unknown)

    @mcp.tool(annotations=READ_BROKER, title="Security static info")
    async def static_info(ctx: AppCtx, symbols: SymbolsArg) -> StaticInfoResult:
        """Name, exchange, currency, lot size, EPS, book value and dividend per share (in the
        security's currency). HK quantities must be whole lots."""
        wanted = parse_symbols(symbols)
        infos = list(await app_of(ctx).quote.static_info(wanted))
        known = {i.symbol for i in infos}
        unknown = [s for s in wanted if s not in known]
        if not infos:
            raise ToolFailure("UNKNOWN_SYMBOL", "none of these symbols is known to the broker")
        sandbox = app_of(ctx).mode is Mode.SANDBOX
        return StaticInfoResult(
            note="sandbox: simulated instrument data and prices, not market data"
            if sandbox
            else None,
            securities=[
                StaticOut(
                    symbol=i.symbol,
                    name=i.name_en or i.name_hk or i.name_cn,
                    name_cn=i.name_cn,
                    exchange=i.exchange,
                    currency=i.currency,
                    lot_size=i.lot_size,
                    board=i.board,
                    total_shares=i.total_shares,
                    circulating_shares=i.circulating_shares,
                    eps=i.eps,
                    eps_ttm=i.eps_ttm,
                    bps=i.bps,
                    dividend_per_share=i.dividend_yield,
                )
                for i in infos
            ],
            unknown=unknown,
        )

    @mcp.tool(annotations=READ_BROKER, title="Order book depth")
    async def depth(ctx: AppCtx, symbol: SymbolArg) -> DepthResult:
        """Bid and ask levels (price, volume, number of orders) of one symbol."""
        sym = _market_symbol(symbol)
        d = await app_of(ctx).quote.depth(sym)
        return DepthResult(symbol=sym, asks=_levels(d.asks), bids=_levels(d.bids))

    @mcp.tool(annotations=READ_BROKER, title="Recent trades")
    async def trades(
        ctx: AppCtx, symbol: SymbolArg, count: Annotated[int, Field(ge=1, le=1000)] = 20
    ) -> TradesResult:
        """The last `count` trade prints of one symbol."""
        sym = _market_symbol(symbol)
        rows = await app_of(ctx).quote.trades(sym, count)
        return TradesResult(
            symbol=sym,
            trades=[
                TradeOut(
                    price=t.price,
                    volume=t.volume,
                    timestamp=t.timestamp,
                    direction=t.direction.name,
                    trade_type=t.trade_type,
                    session=t.trade_session.name,
                )
                for t in rows
            ],
        )

    @mcp.tool(annotations=READ_BROKER, title="Intraday line")
    async def intraday(
        ctx: AppCtx, symbol: SymbolArg, limit: Annotated[int, Field(ge=1, le=500)] = 60
    ) -> IntradayResult:
        """Today's minute price and average price, the last `limit` minutes."""
        sym = _market_symbol(symbol)
        rows = list(await app_of(ctx).quote.intraday(sym))
        return IntradayResult(
            symbol=sym,
            total=len(rows),
            lines=[
                IntradayOut(
                    timestamp=r.timestamp,
                    price=r.price,
                    avg_price=r.avg_price,
                    volume=r.volume,
                    turnover=r.turnover,
                )
                for r in rows[-limit:]
            ],
        )

    @mcp.tool(annotations=READ_BROKER, title="Candlesticks")
    async def candlesticks(
        ctx: AppCtx,
        symbol: SymbolArg,
        period: PeriodArg = "day",
        count: Annotated[int, Field(ge=1, le=1000)] = 30,
        adjusted: bool = False,
        summary: bool = False,
    ) -> CandlesticksResult:
        """OHLC bars, newest last. `adjusted`: forward-adjusted for splits/dividends; `summary`: one
        line (range, change, volume) instead of bars."""
        sym = _market_symbol(symbol)
        # Daily bars start at the exchange's local midnight, which in UTC is often the day before.
        zone = market_timezone(market_of(sym)) if PERIODS[period] >= Period.Day else None
        bars = await app_of(ctx).quote.candlesticks(
            sym,
            PERIODS[period],
            count,
            AdjustType.ForwardAdjust if adjusted else AdjustType.NoAdjust,
        )
        out = [
            BarOut(
                timestamp=b.timestamp,
                date=b.timestamp.astimezone(zone).date().isoformat() if zone else None,
                open=b.open,
                high=b.high,
                low=b.low,
                close=b.close,
                volume=b.volume,
                turnover=b.turnover,
            )
            for b in bars
        ]
        return CandlesticksResult(
            symbol=sym,
            period=period,
            adjusted=adjusted,
            bars=[] if summary else out,
            summary=summarize(out) if summary else None,
        )

    @mcp.tool(annotations=READ_BROKER, title="Trading sessions")
    async def trading_session(ctx: AppCtx) -> TradingSessionResult:
        """Today's sessions (pre, regular, post, overnight) of every market, in exchange-local
        time."""
        markets = await app_of(ctx).quote.trading_session()
        return TradingSessionResult(
            markets=[
                MarketSessionsOut(
                    market=m.market.value,
                    sessions=[
                        SessionOut(
                            session=s.trade_session.name,
                            begin=s.begin_time.isoformat(),
                            end=s.end_time.isoformat(),
                        )
                        for s in m.trade_sessions
                    ],
                )
                for m in markets
            ]
        )

    @mcp.tool(annotations=READ_BROKER, title="Trading days")
    async def trading_days(
        ctx: AppCtx,
        market: Literal["HK", "US", "CN", "SG"],
        begin: Annotated[str, Field(max_length=10)],
        end: Annotated[str, Field(max_length=10)],
    ) -> TradingDaysResult:
        """Trading and half trading days of a market between two dates at most a month apart."""
        first, last = parse_date_arg(begin, "begin"), parse_date_arg(end, "end")
        if first > last:
            raise ToolFailure("INVALID_ARGUMENT", "begin must not be after end")
        if last - first > timedelta(days=31):
            raise ToolFailure("INVALID_ARGUMENT", "begin and end must be at most one month apart")
        days = await app_of(ctx).quote.trading_days(Market(market), first, last)
        return TradingDaysResult(
            market=market,
            trading_days=[d.isoformat() for d in days.trading_days],
            half_trading_days=[d.isoformat() for d in days.half_trading_days],
        )


__all__ = ["QuoteOut", "fetch_quotes", "register"]
