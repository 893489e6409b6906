"""Shared helpers for the MCP server tests: a running server on the seeded simulator.

The server runs on the real path: its ``QuoteContext`` talks to the simulator's quote socket and
``sim.market.step()`` reaches it as pushes. The context is a :class:`WatchedQuoteContext`, the
real one plus a record of the newest push sequence per symbol the server consumed from
``pushes()``, so a test can step the market and wait until the server has the resulting pushes
(:func:`step`) instead of sleeping.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import AsyncGenerator, AsyncIterator
from contextlib import aclosing, asynccontextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any

import anyio
import httpx

from lb_mcp.sdk.config import Config
from lb_mcp.sdk.enums import Mode, OrderSide, OrderType, SubType, TimeInForceType
from lb_mcp.sdk.quote.context import QuoteContext
from lb_mcp.sdk.quote.feed import QuotePush
from lb_mcp.sdk.quote.models import PushQuote
from lb_mcp.sdk.trade.context import TradeContext
from lb_mcp.sdk.transport.buffer import DEFAULT_CAPACITY
from lb_mcp.sdk.transport.signing import LongbridgeAuth
from lb_mcp.server.app import build_server
from lb_mcp.server.backend import Backend
from lb_mcp.server.settings import ServerSettings
from lb_mcp.sim import Simulator

CLOCK_T0 = 1_763_000_000.0
DELIVERY_TIMEOUT_S = 5.0

_watched: weakref.WeakKeyDictionary[Simulator, list[WatchedQuoteContext]] = (
    weakref.WeakKeyDictionary()
)


class WatchedQuoteContext(QuoteContext):
    """The real ``QuoteContext``; it notes the newest sequence per symbol that the SDK received
    (``received``) and that the server's ``pushes()`` reader consumed (``delivered``), and can
    :meth:`hold` that reader so pushes pile up in the SDK."""

    def __init__(self, config: Config) -> None:
        super().__init__(config)
        self.received: dict[str, int] = {}
        self.delivered: dict[str, int] = {}
        self.closed = False
        self._progress = asyncio.Event()
        self._released = asyncio.Event()
        self._released.set()
        super().set_on_quote(self._on_received)

    def _on_received(self, symbol: str, push: PushQuote) -> None:
        self.received[symbol] = max(self.received.get(symbol, 0), push.sequence)
        self._notify()

    def _notify(self) -> None:
        progress, self._progress = self._progress, asyncio.Event()
        progress.set()

    async def pushes(self, capacity: int = DEFAULT_CAPACITY) -> AsyncGenerator[QuotePush, None]:
        async with aclosing(super().pushes(capacity)) as inner:
            async for item in inner:
                yield item
                # Resumed: the reader handled ``item`` and asks for the next one.
                if item.sub_type is SubType.Quote and isinstance(item.event, PushQuote):
                    symbol = item.symbol
                    seq = max(self.delivered.get(symbol, 0), item.event.sequence)
                    self.delivered[symbol] = seq
                    self._notify()
                await self._released.wait()

    @asynccontextmanager
    async def hold(self) -> AsyncIterator[None]:
        """The server reads no further push inside this block (the SDK coalesces them)."""
        self._released.clear()
        try:
            yield
        finally:
            self._released.set()

    async def close(self) -> None:
        self.closed = True
        self._notify()
        await super().close()

    async def _until(self, sim: Simulator, seen: dict[str, int]) -> None:
        while not self.closed:
            behind = [
                s.symbol
                for s in self.subscriptions()
                if SubType.Quote in s.sub_types
                and seen.get(s.symbol, 0) < sim.ws_servers.quote.sequence(s.symbol)
            ]
            if not behind:
                return
            await self._progress.wait()

    async def caught_up(self, sim: Simulator) -> None:
        """Wait until the server consumed every Quote push the simulator sent us."""
        await self._until(sim, self.delivered)

    async def all_received(self, sim: Simulator) -> None:
        """Wait until the SDK received every Quote push the simulator sent us."""
        await self._until(sim, self.received)


def watch(sim: Simulator) -> list[WatchedQuoteContext]:
    """The watched quote contexts created for servers on ``sim`` so far."""
    return _watched.setdefault(sim, [])


def watched_quote_factory(sim: Simulator) -> Any:
    def make(config: Config) -> WatchedQuoteContext:
        ctx = WatchedQuoteContext(config)
        watch(sim).append(ctx)
        return ctx

    return make


async def step(sim: Simulator, times: int = 1) -> None:
    """``sim.market.step()`` ``times`` times, each time waiting until the servers have the pushes.

    Stepping one at a time keeps the count of updates deterministic: the SDK coalesces pushes
    of a symbol that pile up before its callback task runs.
    """
    for _ in range(times):
        sim.market.step()
        with anyio.fail_after(DELIVERY_TIMEOUT_S):
            for ctx in watch(sim):
                await ctx.caught_up(sim)


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
    """``build_server`` on ``sim`` in sandbox mode with the real (watched) ``QuoteContext``."""
    backend = Backend(config=sim.config, mode=Mode.SANDBOX, description="embedded simulator")
    kwargs.setdefault("quote_factory", watched_quote_factory(sim))
    kwargs.setdefault("fanout_interval_s", 0.0)
    return build_server(settings, backend, **kwargs)


async def rejected_with_text(sim: Simulator, text: str) -> str:
    """An order placed with remark ``text`` and then rejected by the sim with reason ``text``
    (``POST /sim/admin/reject``, signed like any client call): hostile broker text for tests."""
    async with TradeContext(sim.config) as trade:
        placed = await trade.submit_order(
            "700.HK", OrderType.LO, OrderSide.Buy, Decimal(100), TimeInForceType.Day,
            submitted_price=Decimal("380"), remark=text,
        )  # fmt: skip
    auth = LongbridgeAuth(
        app_key=sim.config.app_key or "",
        app_secret=sim.config.app_secret or "",
        access_token=lambda: sim.config.access_token or "",
    )
    async with httpx.AsyncClient(base_url=sim.http_url, auth=auth) as http:
        said = await http.post(
            "/sim/admin/reject", params={"order_id": placed.order_id, "reason": text}
        )
    assert said.json()["data"] == {"status": "RejectedStatus"}
    return str(placed.order_id)


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
