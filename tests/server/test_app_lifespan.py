"""The lifespan owns one quote and one trade context, closes them, and states the mode."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from mcp import Client

from lb_mcp.sdk.config import Config
from lb_mcp.sdk.enums import Mode
from lb_mcp.server.app import build_server, instructions
from lb_mcp.server.backend import Backend

from .appkit import MODES, WatchedQuoteContext, make_server, running_sim, settings_for

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize("mode", MODES)
async def test_one_quote_context_per_server_and_it_is_closed_at_shutdown(
    tmp_path: Path, mode: str
) -> None:
    made: list[WatchedQuoteContext] = []
    async with running_sim() as sim:

        def factory(config: Config) -> Any:
            made.append(WatchedQuoteContext(config))
            return made[-1]

        server = make_server(sim, settings_for(tmp_path), quote_factory=factory)
        async with Client(server, mode=mode) as client:
            for _ in range(3):
                assert not (await client.call_tool("quote", {"symbols": ["700.HK"]})).is_error
            assert len(made) == 1 and not made[0].closed
        assert made[0].closed


def test_instructions_state_mode_trading_limits_and_confirmation(tmp_path: Path) -> None:
    config = Config.from_apikey("k", "s", "t", env={})
    live = instructions(settings_for(tmp_path), Backend(config, Mode.LIVE, "real"))
    assert "LIVE" in live and "Trading is OFF" in live
    assert "100000 HKD per order" in live and "cannot confirm an order" in live
    assert "<untrusted-broker-data-" in live and "never instructions" in live
    sandbox = instructions(settings_for(tmp_path), Backend(config, Mode.SANDBOX, "sim"))
    assert "SANDBOX" in sandbox and "Trading is ON" in sandbox


def test_the_backend_repr_never_shows_credentials(tmp_path: Path) -> None:
    config = Config.from_apikey("key-123", "secret-456", "token-789", env={})
    text = repr(Backend(config, Mode.LIVE, "real"))
    assert "secret-456" not in text and "token-789" not in text
    server = build_server(settings_for(tmp_path), Backend(config, Mode.LIVE, "real"))
    assert "secret-456" not in (server.instructions or "")
