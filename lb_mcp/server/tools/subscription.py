"""Streaming tools: subscribe / unsubscribe / subscriptions (official names) and ``poll_quotes``.

``poll_quotes`` is how streamed quotes reach a model whose client never reads resources: give
the ``cursor`` from the previous answer and get each symbol's latest quote that arrived since,
optionally waiting up to ``wait_s`` (≤ 30) for the next one. The wait is event based.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from mcp.server.mcpserver import MCPServer
from pydantic import Field

from lb_mcp.sdk.enums import SubType
from lb_mcp.server.budget import compact, current_budget
from lb_mcp.server.context import AppContext, AppCtx, app_of
from lb_mcp.server.errors import ToolFailure
from lb_mcp.server.output import (
    READ_LOCAL,
    SUBSCRIBE,
    Money,
    Out,
    SymbolsArg,
    UtcTime,
    parse_symbols,
)
from lb_mcp.server.streams.freshness import judge, stale_symbols
from lb_mcp.server.streams.store import MAX_SYMBOLS, QuoteEntry, quote_uri

MAX_WAIT_S = 30


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


class SubscriptionsResult(Out):
    symbols: list[str]
    count: int
    limit: int = Field(description="the broker's cap on subscribed symbols per connection")
    stale: list[str] = Field(description="subscribed symbols whose feed looks mute (recovering)")


class PollResult(Out):
    updates: list[StreamQuoteOut]
    cursor: int = Field(description="pass this as `cursor` in the next poll_quotes call")
    missed: int = Field(description="intermediate updates coalesced away (latest kept)")
    reset: bool = Field(description="the cursor was unknown; all latest quotes were returned")
    subscribed: int
    stale: list[str] = Field(description="subscribed symbols whose feed looks mute (recovering)")


async def subscribe_symbols(app: AppContext, symbols: list[str]) -> list[str]:
    """Subscribe quote pushes for ``symbols`` (already normalised); returns the new ones."""
    new = [s for s in symbols if not app.streams.is_subscribed(s)]
    if not new:
        return []
    total = len(app.streams.symbols) + len(new)
    if total > MAX_SYMBOLS:
        raise ToolFailure(
            "SUBSCRIPTION_LIMIT",
            f"subscribing would make {total} symbols; the broker allows {MAX_SYMBOLS} per "
            "connection. Unsubscribe some first.",
        )
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


def register(mcp: MCPServer[AppContext]) -> None:
    @mcp.tool(annotations=SUBSCRIBE, title="Subscribe to streamed quotes")
    async def subscribe(ctx: AppCtx, symbols: SymbolsArg) -> SubscriptionsResult:
        """Start streaming real-time quotes for symbols (cap 500 per account).

        Then call `poll_quotes` to receive updates, or read/subscribe the resource
        `longbridge://quote/{symbol}`. Subscribing twice is harmless.
        """
        app = app_of(ctx)
        await subscribe_symbols(app, parse_symbols(symbols))
        return _subs(app)

    @mcp.tool(annotations=SUBSCRIBE, title="Unsubscribe streamed quotes")
    async def unsubscribe(ctx: AppCtx, symbols: SymbolsArg) -> SubscriptionsResult:
        """Stop streaming quotes for symbols (symbols not subscribed are ignored)."""
        app = app_of(ctx)
        gone = [s for s in parse_symbols(symbols) if app.streams.is_subscribed(s)]
        if gone:
            await app.quote.unsubscribe(gone, [SubType.Quote])
            app.streams.remove(gone)
        return _subs(app)

    @mcp.tool(annotations=READ_LOCAL, title="List quote subscriptions")
    async def subscriptions(ctx: AppCtx) -> SubscriptionsResult:
        """The symbols whose quotes are currently streamed, and the 500-symbol cap."""
        return _subs(app_of(ctx))

    @mcp.tool(annotations=READ_LOCAL, title="Poll streamed quotes")
    async def poll_quotes(
        ctx: AppCtx,
        cursor: Annotated[int, Field(ge=0, description="0 on the first call")] = 0,
        wait_s: Annotated[float, Field(ge=0, le=MAX_WAIT_S, allow_inf_nan=False)] = 0,
        limit: Annotated[int, Field(ge=1, le=MAX_SYMBOLS)] = 100,
    ) -> PollResult:
        """Quotes streamed since `cursor` (latest per symbol), for subscribed symbols.

        Pass the returned `cursor` next time. With `wait_s` > 0 (max 30) the call waits for
        the next update when there is none yet. `missed` counts updates replaced by a newer
        one before you polled. Subscribe first with `subscribe`.
        """
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
            now = datetime.now(changes.entries[0].received_at.tzinfo) if changes.entries else None
            result = PollResult(
                updates=[StreamQuoteOut.from_entry(e, now) for e in changes.entries] if now else [],
                cursor=changes.cursor,
                missed=changes.missed,
                reset=changes.reset,
                subscribed=len(app.streams.symbols),
                stale=stale_symbols(app.streams),
            )
            size = len(compact(result.model_dump(mode="json")))
            if size <= room or limit == 1:
                return result
            per_item = max(1, size // max(1, len(result.updates)))
            limit = max(1, min(limit - 1, room * 9 // (10 * per_item)))


def _subs(app: AppContext) -> SubscriptionsResult:
    symbols = app.streams.symbols
    return SubscriptionsResult(
        symbols=symbols, count=len(symbols), limit=MAX_SYMBOLS, stale=stale_symbols(app.streams)
    )


__all__ = ["StreamQuoteOut", "register", "subscribe_symbols"]
