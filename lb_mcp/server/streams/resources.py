"""Resources for streamed quotes, announced in both protocol eras.

* ``longbridge://quote/{symbol}`` (template): the latest streamed quote of a subscribed symbol,
  JSON with the exchange ``timestamp`` and ``age_s``.
* ``longbridge://subscriptions``: the subscribed symbols.

Update announcements:

* handshake era: ``resources/subscribe`` / ``resources/unsubscribe``. ``MCPServer`` does not
  serve them, so handlers are registered on the low-level server (that also flips the
  ``resources.subscribe`` capability on). Subscribing to a quote URI also subscribes the symbol
  at the broker, so a resource-only client (e.g. the Inspector) gets pushes.
* 2026-07-28: ``subscriptions/listen`` is served by ``MCPServer`` from our own bus instance;
  :class:`~lb_mcp.server.streams.store.QuoteStreams` publishes ``ResourceUpdated`` to it.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any

from mcp.server.context import ServerRequestContext
from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ResourceError
from mcp_types import EmptyResult, SubscribeRequestParams, UnsubscribeRequestParams

from lb_mcp.server.context import AppContext, AppCtx, LiveApp, app_of
from lb_mcp.server.errors import ToolFailure
from lb_mcp.server.output import parse_symbol
from lb_mcp.server.streams.store import MAX_SYMBOLS, ORDERS_URI, QUOTE_URI, SUBSCRIPTIONS_URI
from lb_mcp.server.tools.subscription import StreamQuoteOut, subscribe_symbols

_QUOTE_URI_RE = re.compile(r"^longbridge://quote/(?P<symbol>[^/?#]{1,32})$")


def _quote_json(app: AppContext, symbol: str) -> str:
    sym = parse_symbol(symbol)
    entry = app.streams.latest(sym)
    if entry is None:
        raise ResourceError(
            f"{sym} is not subscribed; call the subscribe tool (or resources/subscribe) first"
        )
    out = StreamQuoteOut.from_entry(entry, datetime.now(UTC))
    return out.model_dump_json()


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
            return _quote_json(app_of(ctx), symbol)
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
        app.streams.legacy_subscribe(uri, ctx.session)
        return EmptyResult()

    async def on_unsubscribe(
        ctx: ServerRequestContext[AppContext, Any], params: UnsubscribeRequestParams
    ) -> EmptyResult:
        ctx.lifespan_context.streams.legacy_unsubscribe(str(params.uri), ctx.session)
        return EmptyResult()

    lowlevel.add_request_handler("resources/subscribe", SubscribeRequestParams, on_subscribe)
    lowlevel.add_request_handler("resources/unsubscribe", UnsubscribeRequestParams, on_unsubscribe)


async def _ensure_streamed(app: AppContext, uri: str) -> None:
    from mcp.shared.exceptions import MCPError
    from mcp_types import INVALID_PARAMS

    if uri in (SUBSCRIPTIONS_URI, ORDERS_URI):
        return
    match = _QUOTE_URI_RE.match(uri)
    if match is None:
        raise MCPError(INVALID_PARAMS, f"unknown resource; use {QUOTE_URI} or {SUBSCRIPTIONS_URI}")
    try:
        await subscribe_symbols(app, [parse_symbol(match["symbol"])])
    except ToolFailure as failure:
        raise MCPError(INVALID_PARAMS, str(failure)) from None


__all__ = ["register"]
