"""Shared helpers for the order tests: a running simulator, SDK contexts and the service.

The service reads market facts through the real ``QuoteContext`` on the simulator's quote
socket, as the server does.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import anyio

from lb_mcp.sdk.enums import Mode, OrderStatus, TopicType
from lb_mcp.sdk.quote.context import QuoteContext
from lb_mcp.sdk.trade.context import TradeContext
from lb_mcp.sdk.trade.models import PushOrderChanged
from lb_mcp.sdk.trade.push import OrderChangedCallback
from lb_mcp.server.gate.delivery.journal import REMARK_PREFIX
from lb_mcp.server.gate.service import OrderGate
from lb_mcp.server.settings import ServerSettings
from lb_mcp.sim import Simulator
from lb_mcp.sim.exchange.orders import OrderRecord

AUTO_LIMITS = {
    "LB_MCP_CONFIRM": "auto",
    "LB_MCP_MAX_ORDER_NOTIONAL": "1000000",
    "LB_MCP_MAX_DAILY_NOTIONAL": "5000000",
    "LB_MCP_MAX_ORDERS_PER_DAY": "20",
}


def settings_for(state_dir: Path, **env: str) -> ServerSettings:
    values = {"LB_MCP_STATE_DIR": str(state_dir), "LB_MCP_APPROVAL_OPEN_BROWSER": "on", **env}
    return ServerSettings.from_env(env=values)


def our_orders(sim: Simulator) -> list[OrderRecord]:
    """The simulator's true list of orders placed through lb-mcp (the seed has others)."""
    return [o for o in sim.ledger.orders() if o.remark.startswith(REMARK_PREFIX)]


@dataclass
class Opener:
    """Plays the browser: records the URLs the service asks to open."""

    urls: list[str] = field(default_factory=list)
    result: bool = True

    def __call__(self, url: str) -> bool:
        self.urls.append(url)
        return self.result


class WatchedTradeContext(TradeContext):
    """The real ``TradeContext``; it notes when the push subscription is answered and which
    order statuses were pushed (after the consumer's callback ran), so tests wait on events."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.subscribed = anyio.Event()
        self.pushed: dict[str, list[OrderStatus]] = {}
        self._progress = asyncio.Event()

    async def subscribe(self, topics: Sequence[TopicType]) -> None:
        await super().subscribe(topics)
        self.subscribed.set()

    def set_on_order_changed(self, callback: OrderChangedCallback | None) -> None:
        if callback is None:
            super().set_on_order_changed(None)
            return
        inner = callback

        def observed(event: PushOrderChanged) -> Awaitable[None] | None:
            result = inner(event)
            self.pushed.setdefault(event.order_id, []).append(event.status)
            progress, self._progress = self._progress, asyncio.Event()
            progress.set()
            return result if inspect.isawaitable(result) else None

        super().set_on_order_changed(observed)

    async def pushed_status(self, order_id: str, status: OrderStatus) -> None:
        """Wait until a push reported ``status`` for ``order_id``."""
        while status not in self.pushed.get(order_id, []):
            await self._progress.wait()

    async def pushed_times(self, order_id: str, count: int) -> None:
        """Wait until ``count`` pushes about ``order_id`` were handled."""
        while len(self.pushed.get(order_id, [])) < count:
            await self._progress.wait()


@dataclass
class Rig:
    sim: Simulator
    trade: TradeContext
    quote: QuoteContext
    service: OrderGate
    opener: Opener


def sim_clock(sim: Simulator) -> Callable[[], datetime]:
    """The simulator's (injected) clock as the service's clock."""
    return lambda: datetime.fromtimestamp(sim.clock(), UTC)


@asynccontextmanager
async def running_sim() -> AsyncIterator[Simulator]:
    async with Simulator(seed=7, tick=False) as sim:
        yield sim


@asynccontextmanager
async def order_rig(
    settings: ServerSettings,
    *,
    mode: Mode = Mode.SANDBOX,
    sim: Simulator | None = None,
    trade_factory: Callable[[Simulator], TradeContext] | None = None,
    clock: Callable[[], datetime] | None = None,
) -> AsyncIterator[Rig]:
    async with running_sim() if sim is None else _existing(sim) as live:
        trade = trade_factory(live) if trade_factory else TradeContext(live.config)
        opener = Opener()
        async with trade, QuoteContext(live.config) as quote:
            service = OrderGate(
                settings=settings,
                mode=mode,
                trade=trade,
                quote=quote,
                clock=clock or sim_clock(live),
                opener=opener,
            )
            async with service:
                yield Rig(live, trade, quote, service, opener)


@asynccontextmanager
async def _existing(sim: Simulator) -> AsyncIterator[Simulator]:
    yield sim


__all__ = [
    "AUTO_LIMITS",
    "Opener",
    "Rig",
    "WatchedTradeContext",
    "order_rig",
    "our_orders",
    "running_sim",
    "settings_for",
    "sim_clock",
]
