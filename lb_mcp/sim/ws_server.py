"""Placeholder quote and trade WebSocket servers (the real ones are another engineer's task).

Both accept the upgrade and close at once with 1013 "not yet". The facade calls
:func:`start_ws_servers` exactly once, so swapping in the real servers is a one-line change.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from websockets.asyncio.server import Server, ServerConnection, serve

if TYPE_CHECKING:
    from . import Simulator


async def _not_yet(connection: ServerConnection) -> None:
    await connection.close(1013, "not yet")


async def start_ws_servers(sim: Simulator, host: str) -> tuple[Server, Server]:
    """Start (quote, trade) servers on ``host``, each on a free port."""
    quote = await serve(_not_yet, host, 0)
    trade = await serve(_not_yet, host, 0)
    return quote, trade


__all__ = ["start_ws_servers"]
