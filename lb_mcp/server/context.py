"""The typed lifespan state every tool reads: one ``AppContext`` per running server, no globals.

The quote side is described by a small protocol (what the server actually calls), so tests can
hand in a different implementation through ``build_server(..., quote_factory=...)``. The order
side is always the real ``OrderGate``: no server runs order tools without its gate.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any, Protocol

from mcp.server.mcpserver import Context

from lb_mcp.sdk.config import Config
from lb_mcp.sdk.enums import AdjustType, Market, Mode, Period, SubType
from lb_mcp.sdk.quote.feed import QuotePush
from lb_mcp.sdk.quote.models import (
    Candlestick,
    IntradayLine,
    MarketTradingDays,
    MarketTradingSession,
    PushQuote,
    SecurityDepth,
    SecurityQuote,
    SecurityStaticInfo,
    Subscription,
    Trade,
)
from lb_mcp.sdk.trade.context import TradeContext
from lb_mcp.server.backend import Backend
from lb_mcp.server.gate.service import OrderGate
from lb_mcp.server.settings import ServerSettings
from lb_mcp.server.streams.store import QuoteStreams

QuoteCallback = Callable[[str, PushQuote], None]


class QuoteSource(Protocol):
    """The part of ``lb_mcp.sdk.quote.context.QuoteContext`` the server uses (official SDK
    names)."""

    async def quote(self, symbols: list[str]) -> Sequence[SecurityQuote]: ...

    async def static_info(self, symbols: list[str]) -> Sequence[SecurityStaticInfo]: ...

    async def depth(self, symbol: str) -> SecurityDepth: ...

    async def trades(self, symbol: str, count: int) -> Sequence[Trade]: ...

    async def intraday(self, symbol: str) -> Sequence[IntradayLine]: ...

    async def candlesticks(
        self, symbol: str, period: Period, count: int, adjust_type: AdjustType
    ) -> Sequence[Candlestick]: ...

    async def trading_session(self) -> Sequence[MarketTradingSession]: ...

    async def trading_days(self, market: Market, begin: date, end: date) -> MarketTradingDays: ...

    async def subscribe(
        self, symbols: list[str], sub_types: list[SubType], is_first_push: bool = True
    ) -> None: ...

    async def unsubscribe(self, symbols: list[str], sub_types: list[SubType]) -> None: ...

    def subscriptions(self) -> Sequence[Subscription]: ...

    def set_on_quote(self, callback: QuoteCallback | None) -> None: ...

    def pushes(self, capacity: int = ...) -> AsyncGenerator[QuotePush, None]: ...

    def connection_state(self) -> Any: ...

    async def close(self) -> None: ...


QuoteFactory = Callable[[Config], QuoteSource]
TradeFactory = Callable[[Config], TradeContext]


@dataclass
class AppContext:
    """Everything a tool may touch. Built and torn down by the lifespan in ``app.py``."""

    settings: ServerSettings
    backend: Backend
    quote: QuoteSource
    trade: TradeContext
    streams: QuoteStreams
    orders: OrderGate
    started_at: datetime = field(default_factory=lambda: datetime.now(UTC))

    @property
    def mode(self) -> Mode:
        return self.backend.mode

    @property
    def trading_enabled(self) -> bool:
        return self.settings.trading_enabled(self.backend.mode)


@dataclass
class LiveApp:
    """Per-server holder of the running AppContext, for handlers that get no Context."""

    app: AppContext | None = None


AppCtx = Context[AppContext, Any]


def app_of(ctx: AppCtx) -> AppContext:
    return ctx.request_context.lifespan_context


__all__ = [
    "AppContext",
    "AppCtx",
    "LiveApp",
    "QuoteCallback",
    "QuoteFactory",
    "QuoteSource",
    "TradeFactory",
    "app_of",
]
