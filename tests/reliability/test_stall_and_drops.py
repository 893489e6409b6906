"""Rows 1, 12 and 20, fast: drops lose no subscription, a stalled pull blocks nothing else.

In-process simulator on loopback, no ticker; waits are events/polls bounded by fail_after.
"""

from __future__ import annotations

import asyncio
import time

import anyio
import pytest

from lb_mcp.sdk.enums import SubType
from lb_mcp.sdk.quote.context import QuoteContext
from lb_mcp.sdk.wire.commands import QuoteCommand
from lb_mcp.sim import Simulator
from lb_mcp.sim.market.universe import UNIVERSE
from tests.sdk.fake_server import fast_options

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def _sim_subs(sim: Simulator) -> dict[str, set[SubType]]:
    out: dict[str, set[SubType]] = {}
    for held in sim.ws_servers.quote.subs.values():
        for symbol, types in held.items():
            if types:
                out.setdefault(symbol, set()).update(types)
    return out


async def test_a_stalled_quote_pull_does_not_delay_other_calls() -> None:
    async with (
        Simulator(seed=7, tick=False) as sim,
        QuoteContext(sim.config, options=fast_options()) as ctx,
    ):
        await ctx.depth("700.HK")
        sim.faults.stalled = {int(QuoteCommand.QuerySecurityQuote)}
        stalled = asyncio.create_task(ctx.quote(["700.HK"]))
        times = []
        with anyio.fail_after(10):
            for _ in range(30):
                t = time.perf_counter()
                await ctx.depth("700.HK")
                times.append(time.perf_counter() - t)
        assert not stalled.done()
        stalled.cancel()
        assert max(times) < 0.2


async def test_repeated_drops_lose_no_subscription_and_reauth_once_when_expired() -> None:
    symbols = sorted(s for s, sec in UNIVERSE.items() if not sec.quote_only)[:60]  # row 1: 50+
    async with (
        Simulator(seed=7, tick=False) as sim,
        QuoteContext(sim.config, options=fast_options()) as ctx,
    ):
        await ctx.subscribe(symbols, [SubType.Quote, SubType.Depth], is_first_push=False)
        want = {s: {SubType.Quote, SubType.Depth} for s in symbols}
        counts = sim.ws_servers.quote.counts
        for n in range(5):
            if n == 4:  # the last drop also expires the session (row 20)
                sim.faults.reject_reconnect = True
            auths = counts["auth"]
            await sim.drop_quote_connections()
            for _ in range(1000):  # the sim has no event for "resubscribed": poll, 10 s max
                if _sim_subs(sim) == want and sim.ws_servers.quote.online:
                    break
                await asyncio.sleep(0.01)
            assert _sim_subs(sim) == want, f"drop {n}: subscriptions not restored"
        assert {s.symbol for s in ctx.subscriptions()} == set(symbols)
        assert counts["reconnect_refused"] == 1
        assert counts["auth"] == auths + 1  # one fresh AUTH after the refused RECONNECT
