"""Resources for streamed quotes, announced in both protocol eras.

* ``longbridge://quote/{symbol}`` (template): the latest streamed quote of a subscribed symbol,
  JSON with the exchange ``timestamp`` and ``age_s``;
* ``longbridge://depth/{symbol}``, ``longbridge://trades/{symbol}``: the streamed book, and the
  recent streamed prints;
* reading any of them for a symbol that does not stream that kind answers a fresh pull marked
  ``"snapshot": true`` (it subscribes nothing);
* ``longbridge://subscriptions``: the subscribed symbols.

Update announcements:

* handshake era: ``resources/subscribe`` / ``resources/unsubscribe``. ``MCPServer`` does not
  serve them, so handlers are registered on the low-level server (that also flips the
  ``resources.subscribe`` capability on). Subscribing to a quote URI also subscribes the symbol
  at the broker, so a resource-only client (e.g. the Inspector) gets pushes.
* 2026-07-28: ``subscriptions/listen`` is served by ``MCPServer`` from our own bus instance;
  :class:`~lb_mcp.server.streams.store.QuoteStreams` publishes ``ResourceUpdated`` to it. The
  listen handler is wrapped so that listening to a quote / depth / trades URI subscribes that
  stream at the broker too (within the 500-symbol cap: past it the listen is refused with the
  ``SUBSCRIPTION_LIMIT`` text), as ``resources/subscribe`` does.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, cast

from mcp.server.context import ServerRequestContext
from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ResourceError
from mcp_types import (
    EmptyResult,
    SubscribeRequestParams,
    SubscriptionsListenRequestParams,
    SubscriptionsListenResult,
    UnsubscribeRequestParams,
)

from lb_mcp.server.context import AppContext, AppCtx, LiveApp, app_of
from lb_mcp.server.errors import ToolFailure
from lb_mcp.server.output import parse_symbol
from lb_mcp.server.streams.kinds import DEPTH_URI, TRADES_URI, next_depth
from lb_mcp.server.streams.stdio import current_stdout
from lb_mcp.server.streams.store import (
    MAX_SYMBOLS,
    ORDERS_URI,
    QUOTE_URI,
    SUBSCRIPTIONS_URI,
    QuoteEntry,
)

# _LAZY: the tool modules load after ``initialize`` (app.register_tools); resources are
# registered before it, so they import what they share with the tools when first read.

if TYPE_CHECKING:
    from lb_mcp.sdk.quote.models import SecurityQuote

_STREAM_URI_RE = re.compile(r"^longbridge://(?P<kind>quote|depth|trades)/(?P<symbol>[^/?#]{1,32})$")
SNAPSHOT_TRADES = 20  # prints in a trades snapshot
_SNAPSHOT_HINT = "not streamed: a fresh pull; subscribe for updates"


def _unknown(sym: str) -> ResourceError:
    return ResourceError(f"[UNKNOWN_SYMBOL] {sym} is not known to the broker")


async def _quote_json(app: AppContext, symbol: str) -> str:
    from lb_mcp.server.tools.subscription import StreamQuoteOut  # see _LAZY

    sym = parse_symbol(symbol)
    now = datetime.now(UTC)
    entry = app.streams.latest(sym)
    if entry is not None:
        return StreamQuoteOut.from_entry(entry, now).model_dump_json()
    q = await _pulled(app, sym)
    if q is None:
        raise _unknown(sym)
    pulled = QuoteEntry(
        symbol=sym,
        last_done=q.last_done,
        open=q.open,
        high=q.high,
        low=q.low,
        prev_close=q.prev_close,
        volume=q.volume,
        turnover=q.turnover,
        trade_status=q.trade_status.name,
        timestamp=q.timestamp,
        received_at=now,
        seq=0,
        updates=0,
    )
    return _snapshot(StreamQuoteOut.from_entry(pulled, now).model_dump(mode="json"))


def _snapshot(body: dict[str, Any]) -> str:
    return json.dumps({**body, "snapshot": True, "hint": _SNAPSHOT_HINT}, separators=(",", ":"))


async def _pulled(app: AppContext, sym: str) -> SecurityQuote | None:
    """A fresh quote of ``sym`` from the broker; None when it knows no such symbol."""
    return next((q for q in await app.quote.quote([sym]) if q.symbol == sym), None)


async def _known(app: AppContext, sym: str) -> None:
    if await _pulled(app, sym) is None:
        raise _unknown(sym)


async def _depth_json(app: AppContext, symbol: str) -> str:
    from lb_mcp.server.tools.subscription import StreamDepthOut  # see _LAZY

    sym = parse_symbol(symbol)
    entry = app.streams.latest_depth(sym)
    if entry is not None:
        return StreamDepthOut.from_entry(entry).model_dump_json()
    await _known(app, sym)
    book = await app.quote.depth(sym)
    pulled = next_depth(None, sym, book.asks, book.bids, seq=0, updates=0, at=datetime.now(UTC))
    return _snapshot(StreamDepthOut.from_entry(pulled).model_dump(mode="json"))


async def _trades_json(app: AppContext, symbol: str) -> str:
    from lb_mcp.server.tools.subscription import StreamTradesOut, trade_out  # see _LAZY

    sym = parse_symbol(symbol)
    entry = app.streams.latest_trades(sym)
    if entry is not None:
        return StreamTradesOut.from_entry(entry).model_dump_json()
    await _known(app, sym)
    rows = await app.quote.trades(sym, SNAPSHOT_TRADES)
    body = {"symbol": sym, "trades": [trade_out(t).model_dump(mode="json") for t in rows]}
    return _snapshot(body)


def register(mcp: MCPServer[AppContext], live: LiveApp) -> None:
    @mcp.resource(
        QUOTE_URI,
        name="quote",
        title="Streamed quote",
        description="Latest streamed quote of a subscribed symbol (exchange timestamp, age_s). "
        "Subscribe to it for update notifications.",
        mime_type="application/json",
    )
    async def quote_resource(symbol: str, ctx: AppCtx) -> str:
        try:
            return await _quote_json(app_of(ctx), symbol)
        except ToolFailure as failure:
            raise ResourceError(str(failure)) from None

    @mcp.resource(
        DEPTH_URI,
        name="depth",
        title="Streamed order book",
        description='Order book of a symbol streaming depth (subscribe kinds=["depth"]). '
        "Subscribe to it for update notifications.",
        mime_type="application/json",
    )
    async def depth_resource(symbol: str, ctx: AppCtx) -> str:
        try:
            return await _depth_json(app_of(ctx), symbol)
        except ToolFailure as failure:
            raise ResourceError(str(failure)) from None

    @mcp.resource(
        TRADES_URI,
        name="trades",
        title="Streamed trades",
        description='Recent prints of a symbol streaming trades (subscribe kinds=["trades"]). '
        "Subscribe to it for update notifications.",
        mime_type="application/json",
    )
    async def trades_resource(symbol: str, ctx: AppCtx) -> str:
        try:
            return await _trades_json(app_of(ctx), symbol)
        except ToolFailure as failure:
            raise ResourceError(str(failure)) from None

    @mcp.resource(
        SUBSCRIPTIONS_URI,
        name="subscriptions",
        title="Quote subscriptions",
        description="Symbols whose quotes are streamed (cap 500).",
        mime_type="application/json",
    )
    def subscriptions_resource() -> str:
        # Static resources get no Context: the lifespan publishes its state on ``live``.
        app = live.app
        symbols = app.streams.symbols if app is not None else []
        return json.dumps({"symbols": symbols, "count": len(symbols), "limit": MAX_SYMBOLS})

    lowlevel = mcp._lowlevel_server  # documented route for legacy subscribe (mcp.md §3.2)

    async def on_subscribe(
        ctx: ServerRequestContext[AppContext, Any], params: SubscribeRequestParams
    ) -> EmptyResult:
        app = ctx.lifespan_context
        uri = str(params.uri)
        await _ensure_streamed(app, uri)
        app.streams.legacy_subscribe(uri, ctx.session, current_stdout())
        return EmptyResult()

    async def on_unsubscribe(
        ctx: ServerRequestContext[AppContext, Any], params: UnsubscribeRequestParams
    ) -> EmptyResult:
        ctx.lifespan_context.streams.legacy_unsubscribe(str(params.uri), ctx.session)
        return EmptyResult()

    lowlevel.add_request_handler("resources/subscribe", SubscribeRequestParams, on_subscribe)
    lowlevel.add_request_handler("resources/unsubscribe", UnsubscribeRequestParams, on_unsubscribe)

    listen = lowlevel._request_handlers.get("subscriptions/listen")  # MCPServer's ListenHandler
    if listen is not None:
        serve_listen = listen.handler

        async def on_listen(
            ctx: ServerRequestContext[AppContext, Any], params: SubscriptionsListenRequestParams
        ) -> SubscriptionsListenResult:
            # Subscribed before the stream is acknowledged: the first push cannot be missed.
            for uri in params.notifications.resource_subscriptions or ():
                await _ensure_streamed(ctx.lifespan_context, str(uri))
            return cast(SubscriptionsListenResult, await serve_listen(ctx, params))

        lowlevel.add_request_handler(
            "subscriptions/listen", SubscriptionsListenRequestParams, on_listen
        )


async def _ensure_streamed(app: AppContext, uri: str) -> None:
    from mcp.shared.exceptions import MCPError
    from mcp_types import INVALID_PARAMS

    from lb_mcp.server.tools.subscription import subscribe_kind, subscribe_symbols  # see _LAZY

    if uri in (SUBSCRIPTIONS_URI, ORDERS_URI):
        return
    match = _STREAM_URI_RE.match(uri)
    if match is None:
        raise MCPError(
            INVALID_PARAMS,
            f"unknown resource; use {QUOTE_URI}, {DEPTH_URI}, {TRADES_URI} or {SUBSCRIPTIONS_URI}",
        )
    try:
        symbol = parse_symbol(match["symbol"])
        if match["kind"] == "quote":
            await subscribe_symbols(app, [symbol])
        else:
            if not app.streams.streams(match["kind"], symbol):
                await _known_for_subscribe(app, symbol)
            await subscribe_kind(app, match["kind"], [symbol])
    except ToolFailure as failure:
        raise MCPError(INVALID_PARAMS, str(failure)) from None


async def _known_for_subscribe(app: AppContext, symbol: str) -> None:
    if symbol not in set(app.streams.symbols) and len(app.streams.symbols) >= MAX_SYMBOLS:
        raise ToolFailure(
            "SUBSCRIPTION_LIMIT",
            f"{MAX_SYMBOLS} symbols stream already, the broker's cap; unsubscribe some first",
        )
    if await _pulled(app, symbol) is None:
        raise ToolFailure("UNKNOWN_SYMBOL", f"unknown symbol: {symbol}; nothing was subscribed")


__all__ = ["register"]
