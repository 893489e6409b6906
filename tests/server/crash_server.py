"""A stdio MCP server in live mode against a simulator URL, for the crash/reconcile test.

It is ``lb-mcp serve`` with one difference: quotes come from a fixed table instead of the quote
socket (the simulator's quote socket is still a placeholder). Writes its PID to
``LB_MCP_TEST_PID_FILE`` so the test can SIGKILL it mid-order.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from decimal import Decimal

import anyio

from lb_mcp.sdk.config import Config
from lb_mcp.sdk.enums import Mode, TradeStatus
from lb_mcp.sdk.quote_models import SecurityQuote
from lb_mcp.server.app import build_server
from lb_mcp.server.backend import Backend
from lb_mcp.server.settings import ServerSettings


class FixedQuotes:
    """The few quote calls the order path makes, answered from a fixed table."""

    async def quote(self, symbols: Sequence[str]) -> list[SecurityQuote]:
        now = datetime.now(UTC)
        return [
            SecurityQuote(
                symbol=s,
                last_done=Decimal("402"),
                prev_close=Decimal("400"),
                open=Decimal("402"),
                high=Decimal("402"),
                low=Decimal("402"),
                timestamp=now,
                volume=0,
                turnover=Decimal(0),
                trade_status=TradeStatus.Normal,
            )
            for s in symbols
            if s == "700.HK"
        ]

    async def static_info(self, symbols: Sequence[str]) -> list[object]:
        from types import SimpleNamespace

        return [
            SimpleNamespace(symbol=s, name_en="Tencent", currency="HKD", lot_size=100)
            for s in symbols
            if s == "700.HK"
        ]

    def set_on_quote(self, callback: object) -> None:
        return None

    def connection_state(self) -> str:
        return "fixed"

    async def close(self) -> None:
        return None


async def main() -> None:
    config = Config.from_apikey_env(env=os.environ)
    backend = Backend(config=config, mode=Mode.LIVE, description="simulator as live")
    server = build_server(
        ServerSettings.from_env(),
        backend,
        quote_factory=lambda _: FixedQuotes(),  # type: ignore[arg-type,return-value]
    )
    await server.run_stdio_async()


if __name__ == "__main__":
    logging.basicConfig(stream=sys.stderr, level=logging.INFO)
    with open(os.environ["LB_MCP_TEST_PID_FILE"], "w") as fh:
        fh.write(str(os.getpid()))
    anyio.run(main)
