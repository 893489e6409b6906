"""Network faults between our SDK and the simulator, through the soak suite's TCP toxic proxy.

reliability.md §6 row 2 (a blackholed link: TCP open, nothing forwarded) and row 4 (the sim down
for 5 minutes, then back), fast: short liveness timers for row 2; for row 4 the real back-off
policy, seeded, with an injected sleep that advances a virtual clock instead of waiting, so the
5 minutes pass in milliseconds while every attempt is a real TCP connection to the proxy.
"""

from __future__ import annotations

import asyncio
import itertools
import random
import time
from collections.abc import Callable, Iterator

import anyio
import pytest

from bench.soak.toxic import Mode, Toxic
from lb_mcp.sdk.enums import SubType
from lb_mcp.sdk.quote.context import QuoteContext
from lb_mcp.sdk.transport.backoff import DEFAULT_CAP_S, backoff
from lb_mcp.sdk.transport.ws import Liveness, WsOptions
from lb_mcp.sim import Simulator
from tests.sdk.fake_server import fast_options

pytestmark = pytest.mark.anyio

SYMBOLS = ["700.HK", "AAPL.US"]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def _held(sim: Simulator) -> list[set[str]]:
    """The sim's quote subscriptions, one symbol set per connection (in connection order)."""
    return [
        {s for s, types in held.items() if types} for held in sim.ws_servers.quote.subs.values()
    ]


async def _until(predicate: Callable[[], bool], step: float = 0.005) -> None:
    """Poll ``predicate`` (the sim and the SDK expose no event for these states)."""
    while True:
        if predicate():
            return
        await asyncio.sleep(step)


async def test_a_blackholed_link_is_detected_by_the_ping_deadline_and_resubscribed() -> None:
    """Row 2: no FIN, no RST, no pings, no pongs; the client alone must notice."""
    liveness = Liveness(
        ping_interval=0.05, ping_timeout=0.1, data_timeout=5, server_ping_timeout=60
    )
    async with Simulator(seed=7, tick=False) as sim, Toxic.for_url(sim.quote_ws_url) as toxic:
        config = sim.config.with_urls(quote_ws_url=toxic.url(sim.quote_ws_url))
        async with QuoteContext(config, options=fast_options(liveness=liveness)) as ctx:
            pushes: list[float] = []
            ctx.set_on_quote(lambda symbol, push: pushes.append(time.monotonic()))
            with anyio.fail_after(10):
                await ctx.subscribe(SYMBOLS, [SubType.Quote], is_first_push=False)
                started = time.monotonic()
                assert toxic.blackhole() == 1
                assert await toxic.wait_for(lambda: bool(toxic.hangups), 5)
                detected = toxic.hangups[0] - started
                await _until(lambda: len(_held(sim)) == 2 and _held(sim)[1] == set(SYMBOLS))
                sim.market.step()
                await _until(lambda: any(t > toxic.hangups[0] for t in pushes))
            state = ctx.connection_state()
        # At most one ping period until the next ping, plus its pong deadline (and scheduling).
        assert detected < 0.05 + 0.1 + 0.5
        assert state.last_error == "ping timeout: no pong within 0.1 s"
        assert state.reconnects == 1 and state.connected
        # The sim was never told: the blackholed connection is still there, with its subs.
        assert _held(sim)[0] == set(SYMBOLS)
        assert len(toxic.accepted) == 2


class VirtualSleep:
    """An injected sleep: advances a virtual clock by each delay and yields once.

    When the clock passes ``up_at`` (the sim's return), ``on_up`` runs, inside the delay that
    spans it, as if the sim came back while the client was waiting.
    """

    def __init__(self, up_at: float, on_up: Callable[[], None]) -> None:
        self.now = 0.0
        self.up_at = up_at
        self.on_up = on_up
        self.delays: list[float] = []
        self.attempts_at: list[float] = []  # virtual time of each wake-up, i.e. each attempt

    async def __call__(self, delay: float) -> None:
        self.delays.append(delay)
        if self.now < self.up_at <= self.now + delay:
            self.on_up()
        self.now += delay
        self.attempts_at.append(self.now)
        await asyncio.sleep(0)


@pytest.mark.parametrize("session_kept", [True, False], ids=["session-kept", "sim-restarted"])
async def test_five_minutes_down_back_off_is_capped_jittered_and_costs_at_most_one_otp(
    session_kept: bool,
) -> None:
    """Row 4: ~17 attempts in 300 s (the SDK's fixed 2 s makes ~150), no OTP while down."""
    down_s = 300.0

    def seeded() -> Iterator[float]:
        return backoff(rng=random.Random(7))

    async with (
        Simulator(seed=7, tick=False) as sim,
        Toxic.for_url(sim.quote_ws_url) as ws,
        Toxic.for_url(sim.http_url) as rest,
    ):

        def back_up() -> None:
            ws.mode = rest.mode = Mode.PASS
            sim.faults.reject_reconnect = not session_kept

        clock = VirtualSleep(down_s, back_up)
        options = WsOptions(backoff=seeded, sleep=clock)
        config = sim.config.with_urls(
            quote_ws_url=ws.url(sim.quote_ws_url), http_url=rest.url(sim.http_url)
        )
        async with QuoteContext(config, options=options) as ctx:
            with anyio.fail_after(10):
                await ctx.subscribe(SYMBOLS, [SubType.Quote], is_first_push=False)
                otp_before = ctx.connection_state().otp_calls
                counts_before = dict(sim.ws_servers.quote.counts)
                first = len(ws.accepted)
                ws.mode = rest.mode = Mode.REFUSE
                assert ws.drop() == 1
                rest.drop()
                await _until(
                    lambda: ctx.connection_state().reconnects == 1 and _held(sim) == [set(SYMBOLS)]
                )
            state = ctx.connection_state()
        counts = {k: v - counts_before[k] for k, v in sim.ws_servers.quote.counts.items()}

    attempts = len(ws.accepted) - first
    assert attempts == len(clock.delays)  # every wake-up was one connection attempt
    # Equal jitter on 1, 2, 4, ... capped at 30 s: the n-th delay in [ceiling/2, ceiling].
    ceilings = [min(DEFAULT_CAP_S, 2.0**n) for n in range(len(clock.delays))]
    assert all(c / 2 <= d <= c for d, c in zip(clock.delays, ceilings, strict=True))
    assert len(set(clock.delays)) == len(clock.delays)  # jittered: no two alike
    assert 12 <= attempts <= 25, clock.delays  # not ~150 as with a fixed 2 s
    recovery = clock.attempts_at[-1] - down_s
    assert 0 <= recovery <= DEFAULT_CAP_S + 3
    assert list(itertools.accumulate(clock.delays))[-2] < down_s  # the one before was while down
    # No OTP while the sim was down; after it, RECONNECT or (session gone) exactly one OTP.
    otp = state.otp_calls - otp_before
    assert otp == (0 if session_kept else 1) <= attempts / 2
    assert counts["auth"] == otp
    assert counts["reconnect"] == (1 if session_kept else 0)
    assert counts["reconnect_refused"] == (0 if session_kept else 1)
    assert state.reconnects == 1 and state.connected
