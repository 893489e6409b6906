from __future__ import annotations

import anyio
import pytest

from lb_mcp.sim import Simulator
from lb_mcp.sim.market.values import MarketEvent

pytestmark = pytest.mark.anyio


async def test_the_simulator_ticks_in_the_background_and_stops_cleanly() -> None:
    heard = anyio.Event()

    def on_event(event: MarketEvent) -> None:
        if event.symbol == "700.HK" and event.sequence >= 2:
            heard.set()

    with anyio.fail_after(5):
        async with Simulator(push_rate=50) as sim:
            sim.market.add_listener(on_event)
            await heard.wait()
            assert sim.market.quote("700.HK").sequence >= 2
    assert sim.http_url == ""


async def test_env_lines_and_config_point_at_the_running_simulator() -> None:
    with anyio.fail_after(5):
        async with Simulator(seed=11, tick=False) as sim:
            lines = sim.env_lines()
            assert [line.split("=", 1)[0] for line in lines] == [
                "LONGBRIDGE_HTTP_URL",
                "LONGBRIDGE_QUOTE_WS_URL",
                "LONGBRIDGE_TRADE_WS_URL",
                "LONGBRIDGE_APP_KEY",
                "LONGBRIDGE_APP_SECRET",
                "LONGBRIDGE_ACCESS_TOKEN",
            ]
            config = sim.config
            assert config.http_url == sim.http_url.rstrip("/")
            assert sim.quote_ws_url.startswith("ws://127.0.0.1:") and sim.quote_ws_url.endswith(
                "/v2"
            )
            assert config.dc_region == "ap"  # credentials never start with "us_"
            assert sim.app_secret not in repr(sim) and sim.access_token not in repr(config)


def test_credentials_are_fixed_per_seed() -> None:
    a, b, c = Simulator(seed=1, tick=False), Simulator(seed=1, tick=False), Simulator(seed=2)
    assert (a.app_key, a.app_secret, a.access_token) == (b.app_key, b.app_secret, b.access_token)
    assert a.app_key != c.app_key
