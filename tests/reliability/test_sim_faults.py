"""The simulator's fault hooks (lb_mcp.sim.faults), each observed by our SDK (rows 3, 6, 7, 10).

In-process simulator, loopback only, no ticker: the market moves only when a test steps it.
"""

from __future__ import annotations

import asyncio
from decimal import Decimal

import anyio
import pytest

from lb_mcp.sdk.enums import OrderSide, OrderType, SubType, TimeInForceType, TopicType
from lb_mcp.sdk.errors import AuthError
from lb_mcp.sdk.quote.context import QuoteContext
from lb_mcp.sdk.trade.context import TradeContext
from lb_mcp.sdk.trade.models import PushOrderChanged
from lb_mcp.server.errors import map_exception
from lb_mcp.sim import Simulator
from lb_mcp.sim.faults import TradePushShaper
from lb_mcp.sim.faults.admin import apply_plan
from tests.sdk.fake_server import fast_options

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


async def test_connection_limit_at_auth_is_terminal_and_named() -> None:
    async with Simulator(seed=7, tick=False) as sim:
        apply_plan(sim.faults.plan, {"conn_limit": "10", "conn_limit_times": "0"})
        async with QuoteContext(sim.config, options=fast_options()) as ctx:
            with anyio.fail_after(10), pytest.raises(AuthError) as caught:
                await ctx.quote(["700.HK"])
        assert "connections limitation is hit, limit = 10, online = 10" in caught.value.message
        assert sim.faults.plan.counts["conn_limit_refused"] <= 2  # no reconnect loop
        failure = map_exception(caught.value)
        assert failure.code == "CONNECTION_LIMIT" and "limit = 10" in failure.message
        assert not failure.retryable


async def test_token_revoked_mid_session_on_http_and_socket() -> None:
    async with Simulator(seed=7, tick=False) as sim:
        async with QuoteContext(sim.config, options=fast_options()) as ctx:
            with anyio.fail_after(10):
                assert (await ctx.quote(["700.HK"]))[0].symbol == "700.HK"
                sim.faults.plan.set_revoked(401004)
                async with TradeContext(sim.config) as trade:
                    with pytest.raises(AuthError) as http_error:
                        await trade.account_balance()
                assert http_error.value.code == 401004
                await sim.drop_quote_connections()  # RECONNECT and AUTH both refused now
                with pytest.raises(AuthError) as ws_error:
                    await ctx.quote(["700.HK"])
        assert ws_error.value.code == 401004
        refused = sim.faults.plan.counts["revoked_refused"]
        assert 2 <= refused <= 4  # http + at most 2 socket attempts (+1 reconnect), no loop


async def test_mute_feed_stops_pushes_but_answers_requests() -> None:
    async with (
        Simulator(seed=7, tick=False) as sim,
        QuoteContext(sim.config, options=fast_options()) as ctx,
    ):
        got: list[str] = []
        ctx.set_on_quote(lambda symbol, push: got.append(symbol))
        with anyio.fail_after(10):
            await ctx.subscribe(["700.HK"], [SubType.Quote], is_first_push=False)
            while not got:
                sim.market.step()
                await asyncio.sleep(0.01)
            apply_plan(sim.faults.plan, {"mute_quotes": "1"})
            got.clear()
            for _ in range(50):
                sim.market.step()
            await asyncio.sleep(0.2)
            assert got == []
            assert sim.faults.plan.counts["muted"] > 0
            assert (await ctx.quote(["700.HK"]))[0].symbol == "700.HK"  # still answers


def test_trade_push_shaper_is_seeded_and_counts() -> None:
    bodies = [i.to_bytes(2, "big") for i in range(1000)]
    runs = []
    for _ in range(2):
        shaper = TradePushShaper(drop=0.2, dup=0.1, reorder=0.2, seed=3)
        runs.append([b for body in bodies for b in shaper.shape(body)])
    assert runs[0] == runs[1]  # reproducible
    out = runs[0]
    assert 150 <= shaper.counts["dropped"] <= 250
    assert shaper.counts["duplicated"] > 0 and shaper.counts["reordered"] > 0
    assert out != sorted(out)  # something came out of order
    assert len(set(out)) < len(bodies)  # some were dropped


async def test_trade_pushes_are_shaped_on_the_wire() -> None:
    async with Simulator(seed=7, tick=False) as sim:
        apply_plan(sim.faults.plan, {"trade_dup": "1"})
        async with TradeContext(sim.config, ws_options=fast_options()) as trade:
            seen: list[str] = []
            twice = asyncio.Event()

            def on_change(change: PushOrderChanged) -> None:
                seen.append(change.order_id)
                if len(seen) >= 2 and len(set(seen)) < len(seen):
                    twice.set()

            trade.set_on_order_changed(on_change)
            with anyio.fail_after(10):
                await trade.subscribe([TopicType.Private])
                placed = await trade.submit_order("700.HK", OrderType.LO, OrderSide.Buy,
                                                  Decimal(100), TimeInForceType.Day,
                                                  submitted_price=Decimal("1.0"))  # fmt: skip
                await twice.wait()
        assert seen.count(placed.order_id) >= 2
        assert sim.faults.plan.trade.counts["duplicated"] >= 1
