"""Start and stop the simulator's two socket servers (quote and trade) as one unit."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from lb_mcp.sim.wire.quote_server import QuoteHost, QuoteServer
from lb_mcp.sim.wire.trade_server import TradeHost, TradeServer
from lb_mcp.sim.wire.ws_server import PING_INTERVAL_S, Faults


class SimHost(QuoteHost, TradeHost, Protocol):
    """What both servers need of the simulator that runs them."""


@dataclass
class WsServers:
    """The running quote and trade socket servers of one simulator."""

    quote: QuoteServer
    trade: TradeServer

    @property
    def online(self) -> int:
        return self.quote.online + self.trade.online

    async def close(self) -> None:
        for server in (self.quote, self.trade):
            await server.close()


async def start_ws_servers(
    sim: SimHost, host: str, faults: Faults, *, ping_interval: float | None = None
) -> WsServers:
    """Start the quote and trade servers on ``host`` (loopback), each on a free port."""
    if ping_interval is None:
        ping_interval = PING_INTERVAL_S

    quote = QuoteServer(sim, faults, ping_interval=ping_interval)
    trade = TradeServer(sim, faults, ping_interval=ping_interval)
    servers = WsServers(quote, trade)
    try:
        await quote.start(host)
        await trade.start(host)
    except BaseException:
        await servers.close()
        raise
    return servers


__all__ = ["SimHost", "WsServers", "start_ws_servers"]
