"""Shared helpers for the MCP server tests: a running server on the seeded simulator.

``SimQuote`` serves the quote side straight from ``sim.market`` (same values the simulator's
quote socket serves) and turns ``sim.market.step()`` into ``PushQuote`` callbacks. It stands in
for ``QuoteContext`` while the simulator's quote socket is a placeholder; set
``LB_MCP_TEST_REAL_QUOTE=1`` to use the real ``QuoteContext`` over the socket instead.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, date, datetime, time
from decimal import Decimal
from pathlib import Path
from typing import Any

from lb_mcp.sdk.config import Config
from lb_mcp.sdk.enums import AdjustType, Market, Mode, Period, SubType, TradeStatus
from lb_mcp.sdk.quote_models import (
    Candlestick,
    Depth,
    IntradayLine,
    MarketTradingDays,
    MarketTradingSession,
    PushQuote,
    SecurityDepth,
    SecurityQuote,
    SecurityStaticInfo,
    Subscription,
    Trade,
    TradingSessionInfo,
)
from lb_mcp.server.app import build_server
from lb_mcp.server.backend import Backend
from lb_mcp.server.context import QuoteSource
from lb_mcp.server.settings import ServerSettings
from lb_mcp.sim import Simulator
from lb_mcp.sim.market import MarketModel
from lb_mcp.sim.marketdata import MarketEvent

CLOCK_T0 = 1_763_000_000.0


def _ts(seconds: int) -> datetime:
    return datetime.fromtimestamp(seconds, tz=UTC)


class SimQuote:
    def __init__(self, market: MarketModel) -> None:
        self._m = market
        self._cb: Callable[[str, PushQuote], None] | None = None
        self._subs: dict[str, set[SubType]] = {}
        self.closed = False
        market.add_listener(self._on_event)

    def _sq(self, symbol: str) -> SecurityQuote:
        q = self._m.quote(symbol)
        return SecurityQuote(
            symbol=q.symbol,
            last_done=q.last_done,
            prev_close=q.prev_close,
            open=q.open,
            high=q.high,
            low=q.low,
            timestamp=_ts(q.timestamp),
            volume=q.volume,
            turnover=q.turnover,
            trade_status=q.trade_status,
        )

    async def quote(self, symbols: Sequence[str]) -> list[SecurityQuote]:
        return [self._sq(s) for s in symbols if self._m.knows(s)]

    async def static_info(self, symbols: Sequence[str]) -> list[SecurityStaticInfo]:
        out = []
        for s in symbols:
            if not self._m.knows(s):
                continue
            i = self._m.static_info(s)
            out.append(
                SecurityStaticInfo(
                    symbol=i.symbol,
                    name_cn=i.name_cn,
                    name_en=i.name_en,
                    name_hk=i.name_hk,
                    exchange=i.exchange,
                    currency=i.currency,
                    lot_size=i.lot_size,
                    total_shares=i.total_shares,
                    circulating_shares=i.circulating_shares,
                    hk_shares=i.hk_shares,
                    eps=i.eps,
                    eps_ttm=i.eps_ttm,
                    bps=i.bps,
                    dividend_yield=i.dividend_yield,
                    board=i.board,
                )
            )
        return out

    def _known(self, symbol: str) -> None:
        from lb_mcp.sdk.errors import ApiError

        if not self._m.knows(symbol):
            raise ApiError("security not found", code=301600)

    async def depth(self, symbol: str) -> SecurityDepth:
        self._known(symbol)
        d = self._m.depth(symbol)

        def lv(levels: Any) -> list[Depth]:
            return [
                Depth(position=x.position, price=x.price, volume=x.volume, order_num=x.order_num)
                for x in levels
            ]

        return SecurityDepth(asks=lv(d.asks), bids=lv(d.bids))

    async def trades(self, symbol: str, count: int) -> list[Trade]:
        self._known(symbol)
        return [
            Trade(
                price=t.price,
                volume=t.volume,
                timestamp=_ts(t.timestamp),
                trade_type=t.trade_type,
                direction=t.direction,
                trade_session=t.trade_session,
            )
            for t in self._m.trades(symbol, count)
        ]

    async def intraday(self, symbol: str) -> list[IntradayLine]:
        self._known(symbol)
        return [
            IntradayLine(
                price=x.price,
                timestamp=_ts(x.timestamp),
                volume=x.volume,
                turnover=x.turnover,
                avg_price=x.avg_price,
            )
            for x in self._m.intraday(symbol)
        ]

    async def candlesticks(
        self, symbol: str, period: Period, count: int, adjust_type: AdjustType
    ) -> list[Candlestick]:
        self._known(symbol)
        return [
            Candlestick(
                close=c.close,
                open=c.open,
                low=c.low,
                high=c.high,
                volume=c.volume,
                turnover=c.turnover,
                timestamp=_ts(c.timestamp),
                trade_session=c.trade_session,
            )
            for c in self._m.candlesticks(symbol, period, count)
        ]

    async def trading_session(self) -> list[MarketTradingSession]:
        out = []
        for ms in self._m.trading_session():
            sessions = []
            for p in ms.periods:
                sessions.append(
                    TradingSessionInfo(
                        begin_time=getattr(p, "begin", time(9, 30)),
                        end_time=getattr(p, "end", time(16, 0)),
                        trade_session=getattr(p, "session", 0),
                    )
                )
            out.append(MarketTradingSession(market=ms.market, trade_sessions=sessions))
        return out

    async def trading_days(self, market: Market, begin: date, end: date) -> MarketTradingDays:
        days, half = self._m.trading_days(market, begin, end)
        return MarketTradingDays(trading_days=days, half_trading_days=half)

    async def subscribe(self, symbols: Sequence[str], sub_types: Sequence[SubType]) -> None:
        for s in symbols:
            self._subs.setdefault(s, set()).update(sub_types)

    async def unsubscribe(self, symbols: Sequence[str], sub_types: Sequence[SubType]) -> None:
        for s in symbols:
            self._subs.pop(s, None)

    def subscriptions(self) -> list[Subscription]:
        return [Subscription(symbol=s, sub_types=sorted(t)) for s, t in sorted(self._subs.items())]

    def set_on_quote(self, callback: Callable[[str, PushQuote], None] | None) -> None:
        self._cb = callback

    def connection_state(self) -> str:
        return "sim-direct"

    async def close(self) -> None:
        self.closed = True
        self._m.remove_listener(self._on_event)

    def _on_event(self, event: MarketEvent) -> None:
        if not event.quote_changed or SubType.Quote not in self._subs.get(event.symbol, ()):
            return
        if self._cb is None:
            return
        q = self._m.quote(event.symbol)
        self._cb(
            event.symbol,
            PushQuote(
                last_done=q.last_done,
                open=q.open,
                high=q.high,
                low=q.low,
                timestamp=_ts(q.timestamp),
                volume=q.volume,
                turnover=q.turnover,
                trade_status=TradeStatus.Normal,
                trade_session=q.trade_session,
                current_volume=event.current_volume,
                current_turnover=event.current_turnover,
                sequence=event.sequence,
            ),
        )


def settings_for(tmp_path: Path, **overrides: str) -> ServerSettings:
    env = {
        "LB_MCP_STATE_DIR": str(tmp_path / "state"),
        "LB_MCP_APPROVAL_OPEN_BROWSER": "off",
        **overrides,
    }
    return ServerSettings.from_env(env=env)


@asynccontextmanager
async def running_sim(tick: bool = False) -> AsyncIterator[Simulator]:
    async with Simulator(seed=7, tick=tick, clock=lambda: CLOCK_T0) as sim:
        yield sim


def make_server(sim: Simulator, settings: ServerSettings, **kwargs: Any) -> Any:
    holder: dict[str, SimQuote] = {}

    def quote_factory(config: Config) -> QuoteSource:
        if os.environ.get("LB_MCP_TEST_REAL_QUOTE"):
            from lb_mcp.sdk.quote import QuoteContext

            real: QuoteSource = QuoteContext(config)
            return real
        holder["quote"] = SimQuote(sim.market)
        return holder["quote"]

    backend = Backend(config=sim.config, mode=Mode.SANDBOX, description="embedded simulator")
    kwargs.setdefault("quote_factory", quote_factory)
    kwargs.setdefault("fanout_interval_s", 0.0)
    return build_server(settings, backend, **kwargs)


def money(text: str) -> Decimal:
    return Decimal(text)


MODES = ["legacy", "auto"]


@asynccontextmanager
async def connected(
    tmp_path: Path, mode: str, **client_kwargs: Any
) -> AsyncIterator[tuple[Simulator, Any]]:
    """A seeded simulator, the server built on it, and an in-process client in ``mode``."""
    from mcp import Client

    async with running_sim() as sim:
        server = make_server(sim, settings_for(tmp_path))
        async with Client(server, mode=mode, **client_kwargs) as client:
            yield sim, client
