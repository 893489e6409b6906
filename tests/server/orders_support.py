"""Shared helpers for the order tests: a running simulator, SDK contexts and the service."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

from lb_mcp.sdk.enums import Mode, TradeStatus
from lb_mcp.sdk.trade import TradeContext
from lb_mcp.server.journal import REMARK_PREFIX
from lb_mcp.server.orders_service import OrderService
from lb_mcp.server.settings import ServerSettings
from lb_mcp.sim import Simulator
from lb_mcp.sim.orders import OrderRecord
from lb_mcp.sim.universe import UNIVERSE

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


@dataclass(frozen=True)
class _Quote:
    symbol: str
    last_done: Decimal
    prev_close: Decimal
    trade_status: TradeStatus
    timestamp: datetime


@dataclass(frozen=True)
class _Static:
    symbol: str
    name_en: str
    currency: str
    lot_size: int


class SimQuotes:
    """Quote facts straight from the simulator's market model (no quote socket needed)."""

    def __init__(self, sim: Simulator) -> None:
        self._sim = sim

    async def quote(self, symbols: list[str]) -> list[_Quote]:
        out = []
        for symbol in symbols:
            q = self._sim.market.quote(symbol)
            stamp = datetime.fromtimestamp(q.timestamp, UTC)
            out.append(_Quote(symbol, q.last_done, q.prev_close, q.trade_status, stamp))
        return out

    async def static_info(self, symbols: list[str]) -> list[_Static]:
        return [
            _Static(s, UNIVERSE[s].name_en, UNIVERSE[s].currency, UNIVERSE[s].lot_size)
            for s in symbols
            if s in UNIVERSE
        ]


@dataclass
class Rig:
    sim: Simulator
    trade: TradeContext
    quote: SimQuotes
    service: OrderService
    opener: Opener


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
) -> AsyncIterator[Rig]:
    async with running_sim() if sim is None else _existing(sim) as live:
        trade = trade_factory(live) if trade_factory else TradeContext(live.config)
        opener = Opener()
        quote = SimQuotes(live)
        async with trade:
            service = OrderService(
                settings=settings, mode=mode, trade=trade, quote=quote, opener=opener
            )
            async with service:
                yield Rig(live, trade, quote, service, opener)


@asynccontextmanager
async def _existing(sim: Simulator) -> AsyncIterator[Simulator]:
    yield sim
