"""Row 15, fast: a hypothesis stateful model of quote subscriptions under drops and expiry.

Rules subscribe, unsubscribe, drop the socket and expire the session in any order; after each
step settles, the client's subscription set equals the simulator's, and the client never
opens more than one quote socket at a time. The soak suite runs the same machine longer.
"""

from __future__ import annotations

import asyncio
import os
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from lb_mcp.sdk.enums import SubType
from lb_mcp.sdk.quote.context import QuoteContext
from lb_mcp.sim import Simulator
from tests.sdk.fake_server import fast_options

SYMBOLS = ["5.HK", "600519.SH", "700.HK", "9988.HK", "AAPL.US", "NVDA.US", "TSLA.US"]
TYPES = [SubType.Quote, SubType.Depth, SubType.Trade]


class Subscriptions(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.loop = asyncio.new_event_loop()
        self.sim = Simulator(seed=7, tick=False)
        self.loop.run_until_complete(self.sim.__aenter__())
        self.ctx = QuoteContext(self.sim.config, options=fast_options())
        self.loop.run_until_complete(self.ctx.__aenter__())
        self.model: dict[str, set[SubType]] = {}

    def run(self, coro: Any) -> Any:
        return self.loop.run_until_complete(asyncio.wait_for(coro, 10))

    def sim_subs(self) -> dict[str, set[SubType]]:
        out: dict[str, set[SubType]] = {}
        for held in self.sim.ws_servers.quote.subs.values():
            for symbol, types in held.items():
                if types:
                    out.setdefault(symbol, set()).update(types)
        return out

    async def settle(self) -> None:
        for _ in range(500):
            if self.sim.ws_servers.quote.online <= 1 and self.sim_subs() == self.model:
                return
            await asyncio.sleep(0.01)

    @rule(symbols=st.lists(st.sampled_from(SYMBOLS), min_size=1, max_size=3, unique=True),
          types=st.lists(st.sampled_from(TYPES), min_size=1, max_size=2, unique=True))  # fmt: skip
    def subscribe(self, symbols: list[str], types: list[SubType]) -> None:
        self.run(self.ctx.subscribe(symbols, types, is_first_push=False))
        for s in symbols:
            self.model.setdefault(s, set()).update(types)

    @rule(symbols=st.lists(st.sampled_from(SYMBOLS), min_size=1, max_size=3, unique=True),
          types=st.lists(st.sampled_from(TYPES), min_size=1, max_size=2, unique=True))  # fmt: skip
    def unsubscribe(self, symbols: list[str], types: list[SubType]) -> None:
        self.run(self.ctx.unsubscribe(symbols, types))
        for s in symbols:
            left = self.model.get(s, set()) - set(types)
            if left:
                self.model[s] = left
            else:
                self.model.pop(s, None)

    @rule(expire=st.booleans())
    def drop(self, expire: bool) -> None:
        self.sim.faults.reject_reconnect = expire
        self.run(self.sim.drop_quote_connections())
        self.run(self.ctx.quote(["700.HK"]))  # waits for the reconnect

    @invariant()
    def client_equals_sim(self) -> None:
        self.run(self.settle())
        client = {s.symbol: set(s.sub_types) for s in self.ctx.subscriptions()}
        assert client == self.model
        assert self.sim_subs() == self.model
        assert self.sim.ws_servers.quote.online <= 1  # never a second quote socket

    def teardown(self) -> None:
        self.loop.run_until_complete(self.ctx.__aexit__(None, None, None))
        self.loop.run_until_complete(self.sim.__aexit__(None, None, None))
        self.loop.close()


# The soak suite (bench/soak row 15) runs this file with larger sizes through these variables.
Subscriptions.TestCase.settings = settings(
    max_examples=int(os.environ.get("LB_SOAK_EXAMPLES", "8")),
    stateful_step_count=int(os.environ.get("LB_SOAK_STEPS", "8")),
    deadline=None, derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)  # fmt: skip
TestSubscriptions = Subscriptions.TestCase
