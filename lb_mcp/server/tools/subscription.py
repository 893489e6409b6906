"""Streaming tools: subscribe / unsubscribe / subscriptions (official names) and ``poll_quotes``.

``subscribe`` takes ``kinds``: ``quote`` (the default), ``depth``, ``trades`` and ``candles``
(bars of ``period`` that the SDK builds from pushes). ``poll_quotes`` is how every stream
reaches a model whose client never reads resources: give the ``cursor`` from the previous
answer and get, since then, each symbol's latest quote and book, its new prints and its
current bars, optionally waiting up to ``wait_s`` (≤ 30) for the next update. The wait is
event based. One tool for all kinds keeps ``tools/list`` small.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Annotated, Literal

from mcp.server.mcpserver import MCPServer
from pydantic import Field

from lb_mcp.sdk.enums import Period, SubType
from lb_mcp.sdk.quote.models import Candlestick, Depth, PushCandlestick, PushDepth, Trade
from lb_mcp.server.budget import current_budget, size
from lb_mcp.server.context import AppContext, AppCtx, app_of
from lb_mcp.server.errors import ToolFailure
from lb_mcp.server.output import (
    PERIODS,
    READ_LOCAL,
    SUBSCRIBE,
    Money,
    Out,
    PeriodArg,
    SymbolsArg,
    UtcTime,
    parse_symbols,
)
from lb_mcp.server.streams.freshness import judge, stale_symbols
from lb_mcp.server.streams.kinds import (
    CandleEntry,
    DepthEntry,
    TradesEntry,
    depth_uri,
    trades_uri,
)
from lb_mcp.server.streams.store import (
    MAX_SYMBOLS,
    STREAM_KINDS,
    QuoteEntry,
    quote_uri,
)
from lb_mcp.server.tools.quote import LevelOut, TradeOut

MAX_WAIT_S = 30
MAX_CANDLE_SERIES = 50  # each one pulls 1000 bars when subscribed
SEEDED_BOOKS = 20  # books pulled at subscribe time; more symbols get the first push instead
KindArg = Literal["quote", "depth", "trades", "candles"]
PERIOD_NAMES = {period: name for name, period in PERIODS.items()}


class StreamQuoteOut(Out):
    symbol: str
    last_done: Money
    open: Money
    high: Money
    low: Money
    prev_close: Money | None
    volume: int
    turnover: Money
    trade_status: str
    timestamp: UtcTime = Field(description="exchange time of this quote")
    age_s: float = Field(description="seconds since the exchange timestamp")
    stale: bool = Field(description="market open but no update for a while: the feed may be mute")
    seq: int
    updates: int = Field(description="updates of this symbol seen since subscribing")
    uri: str

    @classmethod
    def from_entry(cls, e: QuoteEntry, now: datetime) -> StreamQuoteOut:
        age_s, stale = judge(e.symbol, e.timestamp, e.received_at, now)
        return cls(
            symbol=e.symbol,
            last_done=e.last_done,
            open=e.open,
            high=e.high,
            low=e.low,
            prev_close=e.prev_close,
            volume=e.volume,
            turnover=e.turnover,
            trade_status=e.trade_status,
            timestamp=e.timestamp,
            age_s=age_s,
            stale=stale,
            seq=e.seq,
            updates=e.updates,
            uri=quote_uri(e.symbol),
        )


class StreamDepthOut(Out):
    symbol: str
    asks: list[LevelOut]
    bids: list[LevelOut]
    seq: int
    updates: int
    uri: str

    @classmethod
    def from_entry(cls, e: DepthEntry) -> StreamDepthOut:
        return cls(
            symbol=e.symbol,
            asks=_levels(e.asks),
            bids=_levels(e.bids),
            seq=e.seq,
            updates=e.updates,
            uri=depth_uri(e.symbol),
        )


class StreamTradesOut(Out):
    symbol: str
    trades: list[TradeOut] = Field(description="prints since your cursor, oldest first")
    seq: int
    uri: str

    @classmethod
    def from_entry(cls, e: TradesEntry) -> StreamTradesOut:
        return cls(
            symbol=e.symbol,
            trades=[trade_out(t) for _, t in e.trades],
            seq=e.seq,
            uri=trades_uri(e.symbol),
        )


class StreamBarOut(Out):
    timestamp: UtcTime
    open: Money
    high: Money
    low: Money
    close: Money
    volume: int
    turnover: Money
    confirmed: bool = Field(description="closed: a later bar has started")


class StreamBarsOut(Out):
    symbol: str
    period: str
    bars: list[StreamBarOut] = Field(description="bars updated since your cursor, oldest first")
    seq: int

    @classmethod
    def from_entry(cls, e: CandleEntry) -> StreamBarsOut:
        return cls(
            symbol=e.symbol,
            period=PERIOD_NAMES.get(e.period, e.period.name),
            bars=[_bar(b, confirmed) for _, b, confirmed in e.bars],
            seq=e.seq,
        )


class SubscriptionsResult(Out):
    symbols: list[str]
    count: int
    limit: int = Field(description="the broker's cap on subscribed symbols per connection")
    depth: list[str]
    trades: list[str]
    candles: list[str]
    stale: list[str] = Field(description="subscribed symbols whose feed looks mute (recovering)")


class PollResult(Out):
    updates: list[StreamQuoteOut] = Field(description="quotes: the latest per symbol")
    depth: list[StreamDepthOut]
    trades: list[StreamTradesOut]
    candles: list[StreamBarsOut]
    cursor: int = Field(description="pass this as `cursor` in the next poll_quotes call")
    missed: int = Field(description="intermediate updates coalesced away (latest kept)")
    reset: bool = Field(description="the cursor was unknown; all latest entries were returned")
    subscribed: int
    stale: list[str] = Field(description="subscribed symbols whose feed looks mute (recovering)")


def _levels(levels: tuple[Depth, ...] | list[Depth]) -> list[LevelOut]:
    return [
        LevelOut(position=d.position, price=d.price, volume=d.volume, order_num=d.order_num)
        for d in levels
    ]


def trade_out(t: Trade) -> TradeOut:
    return TradeOut(
        price=t.price,
        volume=t.volume,
        timestamp=t.timestamp,
        direction=t.direction.name,
        trade_type=t.trade_type,
        session=t.trade_session.name,
    )


def _bar(b: Candlestick, confirmed: bool) -> StreamBarOut:
    return StreamBarOut(
        timestamp=b.timestamp,
        open=b.open,
        high=b.high,
        low=b.low,
        close=b.close,
        volume=b.volume,
        turnover=b.turnover,
        confirmed=confirmed,
    )


def _check_cap(app: AppContext, symbols: list[str]) -> list[str]:
    """The symbols not streaming anything yet; SUBSCRIPTION_LIMIT if they would pass the cap."""
    held = set(app.streams.symbols)
    new = [s for s in symbols if s not in held]
    total = len(held) + len(new)
    if total > MAX_SYMBOLS:
        raise ToolFailure(
            "SUBSCRIPTION_LIMIT",
            f"subscribing would make {total} symbols; the broker allows {MAX_SYMBOLS} per "
            "connection. Unsubscribe some first.",
        )
    return new


async def _check_known(app: AppContext, symbols: list[str]) -> None:
    if not symbols:
        return
    known = {q.symbol for q in await app.quote.quote(symbols)}
    unknown = [s for s in symbols if s not in known]
    if unknown:
        raise ToolFailure(
            "UNKNOWN_SYMBOL",
            f"unknown symbol(s): {', '.join(unknown[:5])}; nothing was subscribed",
        )


async def subscribe_symbols(app: AppContext, symbols: list[str]) -> list[str]:
    """Subscribe quote pushes for ``symbols`` (already normalised); returns the new ones."""
    new = [s for s in symbols if not app.streams.is_subscribed(s)]
    if not new:
        return []
    _check_cap(app, new)
    snapshots = {q.symbol: q for q in await app.quote.quote(new)}
    unknown = [s for s in new if s not in snapshots]
    if unknown:
        raise ToolFailure(
            "UNKNOWN_SYMBOL",
            f"unknown symbol(s): {', '.join(unknown[:5])}; nothing was subscribed",
        )
    # The pulled snapshot is the first update; a first push would repeat it as a second one
    # that lands whenever the socket delivers it, racing the caller's poll cursor.
    await app.quote.subscribe(new, [SubType.Quote], is_first_push=False)
    app.streams.add(new)
    for symbol in new:
        app.streams.seed(snapshots[symbol])
    return new


async def subscribe_kind(app: AppContext, kind: str, symbols: list[str]) -> list[str]:
    """Subscribe ``depth`` or ``trades`` for known ``symbols``; returns the new ones."""
    new = [s for s in symbols if not app.streams.streams(kind, s)]
    if not new:
        return []
    seed = kind == "depth" and len(new) <= SEEDED_BOOKS
    # Pulled before subscribing, so every push that follows is newer than the seed.
    books = {s: await app.quote.depth(s) for s in new} if seed else {}
    app.streams.add_kind(kind, new)
    for symbol, book in books.items():
        app.streams.on_depth(symbol, PushDepth(asks=book.asks, bids=book.bids), pulled=True)
    sub_type = SubType.Depth if kind == "depth" else SubType.Trade
    try:
        await app.quote.subscribe(new, [sub_type], is_first_push=kind == "depth" and not seed)
    except BaseException:
        app.streams.remove_kind(kind, new)
        raise
    return new


async def subscribe_candles(app: AppContext, symbols: list[str], period: Period) -> None:
    new = [s for s in symbols if period not in app.streams.candle_periods(s)]
    series = sum(len(app.streams.candle_periods(s)) for s in app.streams.symbols)
    if series + len(new) > MAX_CANDLE_SERIES:
        raise ToolFailure(
            "SUBSCRIPTION_LIMIT",
            f"at most {MAX_CANDLE_SERIES} candlestick series stream at once ({series} do); "
            "unsubscribe some first",
        )
    for symbol in new:
        app.streams.add_candles(symbol, period)  # first, so no built bar is dropped
        try:
            bars = await app.quote.subscribe_candlesticks(symbol, period)
        except BaseException:
            app.streams.remove_candles(symbol, period)
            raise
        if bars and not app.streams.has_bars(symbol, period):
            push = PushCandlestick(period=period, candlestick=bars[-1], is_confirmed=False)
            app.streams.on_candlestick(symbol, push)


async def subscribe_streams(
    app: AppContext, symbols: list[str], kinds: list[str], period: Period
) -> None:
    """Subscribe every kind in ``kinds`` for ``symbols`` (already normalised)."""
    new = _check_cap(app, symbols)
    if "quote" in kinds:
        await subscribe_symbols(app, symbols)  # learns about unknown symbols on the way
    else:
        await _check_known(app, new)
    for kind in ("depth", "trades"):
        if kind in kinds:
            await subscribe_kind(app, kind, symbols)
    if "candles" in kinds:
        await subscribe_candles(app, symbols, period)


async def unsubscribe_streams(app: AppContext, symbols: list[str], kinds: list[str]) -> None:
    streams = app.streams
    if "quote" in kinds:
        gone = [s for s in symbols if streams.is_subscribed(s)]
        if gone:
            await app.quote.unsubscribe(gone, [SubType.Quote])
            streams.remove(gone)
    for kind, sub_type in (("depth", SubType.Depth), ("trades", SubType.Trade)):
        if kind in kinds:
            gone = [s for s in symbols if streams.streams(kind, s)]
            if gone:
                await app.quote.unsubscribe(gone, [sub_type])
                streams.remove_kind(kind, gone)
    if "candles" in kinds:
        for symbol in symbols:
            for period in streams.candle_periods(symbol):
                await app.quote.unsubscribe_candlesticks(symbol, period)
                streams.remove_candles(symbol, period)


KindsArg = Annotated[
    list[KindArg] | None,
    Field(max_length=4, description='default ["quote"]'),
]


def register(mcp: MCPServer[AppContext]) -> None:
    @mcp.tool(annotations=SUBSCRIBE, title="Subscribe to streamed quotes")
    async def subscribe(
        ctx: AppCtx,
        symbols: SymbolsArg,
        kinds: KindsArg = None,
        period: Annotated[PeriodArg, Field(description='of "candles"')] = "1m",
    ) -> SubscriptionsResult:
        """Stream quotes of up to 500 symbols; `kinds` adds book (`depth`), prints (`trades`), live
        bars of `period` (`candles`). Read with `poll_quotes` or longbridge://quote/{symbol}
        (depth/, trades/)."""
        app = app_of(ctx)
        wanted: list[str] = list(kinds or ["quote"])
        await subscribe_streams(app, parse_symbols(symbols), wanted, PERIODS[period])
        return _subs(app)

    @mcp.tool(annotations=SUBSCRIBE, title="Unsubscribe streamed quotes")
    async def unsubscribe(
        ctx: AppCtx,
        symbols: SymbolsArg,
        kinds: Annotated[
            list[KindArg] | None, Field(max_length=4, description="default: every kind")
        ] = None,
    ) -> SubscriptionsResult:
        """Stop streaming symbols (unsubscribed ones are ignored)."""
        app = app_of(ctx)
        await unsubscribe_streams(app, parse_symbols(symbols), list(kinds or STREAM_KINDS))
        return _subs(app)

    @mcp.tool(annotations=READ_LOCAL, title="List quote subscriptions")
    async def subscriptions(ctx: AppCtx) -> SubscriptionsResult:
        """The streamed symbols (with depth, trades, candles) and the 500 cap."""
        return _subs(app_of(ctx))

    @mcp.tool(annotations=READ_LOCAL, title="Poll streamed quotes")
    async def poll_quotes(
        ctx: AppCtx,
        cursor: Annotated[int, Field(ge=0)] = 0,
        wait_s: Annotated[float, Field(ge=0, le=MAX_WAIT_S, allow_inf_nan=False)] = 0,
        limit: Annotated[int, Field(ge=1, le=MAX_SYMBOLS)] = 100,
    ) -> PollResult:
        """Updates since `cursor` (pass back the returned one): latest quote per symbol and, where
        subscribed, book, prints and bars in progress. `wait_s` > 0 waits for one; `missed`
        counts superseded updates."""
        app = app_of(ctx)
        if not app.streams.symbols:
            raise ToolFailure(
                "NOT_SUBSCRIBED", "no symbols are subscribed; call subscribe with symbols first"
            )
        if wait_s > 0 and cursor <= app.streams.seq:
            await app.streams.wait_for_change(cursor, wait_s)
        # Page by the call's size budget here rather than letting the generic trim drop
        # updates after the cursor already moved past them.
        room = current_budget()
        while True:
            changes = app.streams.changes_since(cursor, limit)
            result = _poll_result(app, changes.entries, changes.cursor, changes.missed)
            result = result.model_copy(update={"reset": changes.reset})
            used = size(result.model_dump(mode="json"))
            if used <= room or limit == 1:
                return result
            count = len(changes.entries)
            per_item = max(1, used // max(1, count))
            limit = max(1, min(limit - 1, room * 9 // (10 * per_item)))


def _poll_result(
    app: AppContext, entries: Sequence[object], cursor: int, missed: int
) -> PollResult:
    now = datetime.now(UTC)
    return PollResult(
        updates=[StreamQuoteOut.from_entry(e, now) for e in entries if isinstance(e, QuoteEntry)],
        depth=[StreamDepthOut.from_entry(e) for e in entries if isinstance(e, DepthEntry)],
        trades=[StreamTradesOut.from_entry(e) for e in entries if isinstance(e, TradesEntry)],
        candles=[StreamBarsOut.from_entry(e) for e in entries if isinstance(e, CandleEntry)],
        cursor=cursor,
        missed=missed,
        reset=False,
        subscribed=len(app.streams.symbols),
        stale=stale_symbols(app.streams),
    )


def _subs(app: AppContext) -> SubscriptionsResult:
    streams = app.streams
    symbols = streams.symbols
    return SubscriptionsResult(
        symbols=symbols,
        count=len(symbols),
        limit=MAX_SYMBOLS,
        depth=[s for s in symbols if streams.streams("depth", s)],
        trades=[s for s in symbols if streams.streams("trades", s)],
        candles=[
            f"{s} {PERIOD_NAMES.get(p, p.name)}" for s in symbols for p in streams.candle_periods(s)
        ],
        stale=stale_symbols(streams),
    )


__all__ = [
    "StreamDepthOut",
    "StreamQuoteOut",
    "StreamTradesOut",
    "register",
    "subscribe_kind",
    "subscribe_streams",
    "subscribe_symbols",
    "trade_out",
]
