"""The typed lifespan state every tool reads: one ``AppContext`` per running server, no globals.

The quote side is described by a small protocol (what the server actually calls), so tests can
hand in a different implementation through ``build_server(..., quote_factory=...)``. The order
side is always the real ``OrderGate``: no server runs order tools without its gate.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any, Protocol, TypeAlias

from mcp.server.mcpserver import Context

from lb_mcp.sdk.enums import AdjustType, Market, Mode, Period, SubType

# Only names for annotations: importing the gate, the stream store and the SDK's models here would
# put them on every tool module's import path, before ``initialize`` is answered (cold start).
if TYPE_CHECKING:
    from lb_mcp.sdk.config import Config
    from lb_mcp.sdk.quote import market_models as mm
    from lb_mcp.sdk.quote.feed import QuotePush
    from lb_mcp.sdk.quote.models import (
        Candlestick,
        IntradayLine,
        MarketTradingDays,
        MarketTradingSession,
        PushQuote,
        SecurityBrokers,
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

QuoteCallback: TypeAlias = "Callable[[str, PushQuote], None]"


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

    async def subscribe_candlesticks(
        self, symbol: str, period: Period
    ) -> Sequence[Candlestick]: ...

    async def unsubscribe_candlesticks(self, symbol: str, period: Period) -> None: ...

    def subscriptions(self) -> Sequence[Subscription]: ...

    def set_on_quote(self, callback: QuoteCallback | None) -> None: ...

    def pushes(self, capacity: int = ...) -> AsyncGenerator[QuotePush, None]: ...

    def connection_state(self) -> Any: ...

    async def close(self) -> None: ...

    # --- market data beyond quotes (lb_mcp.sdk.quote.market_data) ---

    async def brokers(self, symbol: str) -> SecurityBrokers: ...

    async def history_candlesticks_by_offset(
        self,
        symbol: str,
        period: Period,
        adjust_type: AdjustType,
        forward: bool,
        count: int,
        time: datetime | None = None,
    ) -> Sequence[Candlestick]: ...

    async def history_candlesticks_by_date(
        self,
        symbol: str,
        period: Period,
        adjust_type: AdjustType,
        start: date | None = None,
        end: date | None = None,
    ) -> Sequence[Candlestick]: ...

    async def option_chain_expiry_date_list(self, symbol: str) -> Sequence[date]: ...

    async def option_chain_info_by_date(
        self, symbol: str, expiry_date: date, standard_only: bool = False
    ) -> Sequence[mm.OptionChainContract]: ...

    async def option_quote(self, symbols: list[str]) -> Sequence[mm.OptionQuote]: ...

    async def warrant_quote(self, symbols: list[str]) -> Sequence[mm.WarrantQuote]: ...

    async def warrant_issuers(self) -> Sequence[mm.IssuerInfo]: ...

    async def warrant_list(
        self,
        symbol: str,
        sort_by: mm.WarrantSortBy,
        sort_order: mm.SortOrderType,
        warrant_type: Sequence[mm.WarrantType] | None = None,
        issuer: Sequence[int] | None = None,
        expiry_date: Sequence[mm.FilterWarrantExpiryDate] | None = None,
        price_type: Sequence[mm.FilterWarrantInOutBoundsType] | None = None,
        status: Sequence[mm.WarrantStatus] | None = None,
    ) -> Sequence[mm.WarrantInfo]: ...

    async def participants(self) -> Sequence[mm.ParticipantInfo]: ...

    async def capital_flow(self, symbol: str) -> Sequence[mm.CapitalFlowLine]: ...

    async def capital_distribution(self, symbol: str) -> mm.CapitalDistributionResponse: ...

    async def calc_indexes(
        self, symbols: list[str], indexes: list[mm.CalcIndex]
    ) -> Sequence[mm.SecurityCalcIndex]: ...

    async def security_list(
        self, market: Market, category: mm.SecurityListCategory | None = None
    ) -> Sequence[mm.Security]: ...

    async def market_temperature(self, market: Market) -> mm.MarketTemperature: ...

    async def history_market_temperature(
        self, market: Market, start_date: date, end_date: date
    ) -> mm.HistoryMarketTemperatureResponse: ...

    async def watchlist(self) -> Sequence[mm.WatchlistGroup]: ...

    async def create_watchlist_group(
        self, name: str, securities: list[str] | None = None
    ) -> int: ...

    async def delete_watchlist_group(self, id: int, purge: bool = False) -> None: ...

    async def update_watchlist_group(
        self,
        id: int,
        name: str | None = None,
        securities: list[str] | None = None,
        mode: mm.SecuritiesUpdateMode | None = None,
    ) -> None: ...


QuoteFactory: TypeAlias = "Callable[[Config], QuoteSource]"
TradeFactory: TypeAlias = "Callable[[Config], TradeContext]"


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
