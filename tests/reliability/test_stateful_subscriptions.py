"""Row 15: a hypothesis stateful model of quote subscriptions under drops and expiry.

Rules subscribe, unsubscribe, drop the socket and expire the session in any order; after each
step the client's subscription set equals the simulator's, the client never holds more than
one quote socket, it fetched exactly the OTPs the model expects (one per new session: the
first connect and each expired session; a resumed session needs none), and an example leaves
no task behind. The soak suite (bench/soak row 15) runs the same machine at full size.

The SDK fetches at most 6 OTPs per 300 s per socket (reliability.md row 4); a request made
once that budget is spent waits for its timeout. The model therefore expires a session only
while the budget has room, and checks the count. (An earlier version let hypothesis expire
six sessions in one example; its request then hung for the 10 s step timeout, which is what
failed the soak once.)
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test

from lb_mcp.sdk.enums import SubType
from lb_mcp.sdk.quote.context import QuoteContext
from tests.sdk.fake_server import fast_options

from .stateful_support import Shared, Tally, machine_settings, shared_sim, sizes

SYMBOLS = ["5.HK", "600519.SH", "700.HK", "9988.HK", "AAPL.US", "NVDA.US", "TSLA.US"]
TYPES = [SubType.Quote, SubType.Depth, SubType.Trade]
OTP_LIMIT = 6  # WsOptions.otp_limit, the SDK's default
EXAMPLES, STEPS = sizes(8, 12)
TALLY = Tally("subscriptions")
some_symbols = st.lists(st.sampled_from(SYMBOLS), min_size=1, max_size=3, unique=True)
some_types = st.lists(st.sampled_from(TYPES), min_size=1, max_size=2, unique=True)


class Subscriptions(RuleBasedStateMachine):
    def __init__(self, shared: Shared) -> None:
        super().__init__()
        self.shared = shared
        self.sim = shared.sim
        self.sim.faults.reject_reconnect = False
        self.before = shared.tasks()
        self.ctx = QuoteContext(self.sim.config, options=fast_options())
        shared.run(self.ctx.__aenter__())
        self.model: dict[str, set[SubType]] = {}
        self.otps = 0  # OTPs the client should have fetched so far
        TALLY.examples += 1

    def run(self, coro: Any) -> Any:
        return self.shared.run(coro)

    def sim_subs(self) -> dict[str, set[SubType]]:
        out: dict[str, set[SubType]] = {}
        for held in self.sim.ws_servers.quote.subs.values():
            for symbol, types in held.items():
                if types:
                    out.setdefault(symbol, set()).update(types)
        return out

    def _connected_once(self) -> None:
        self.otps = max(self.otps, 1)  # the first request connects with a fresh OTP

    async def _resynced(self) -> None:
        """Wait for the SDK's resubscribe after a reconnect (the task it runs for it)."""
        hooks = [t for t in asyncio.all_tasks() if t.get_name() == "lb-quote-resync"]
        await asyncio.gather(*hooks, return_exceptions=True)

    @rule(symbols=some_symbols, types=some_types)
    def subscribe(self, symbols: list[str], types: list[SubType]) -> None:
        TALLY.steps += 1
        self.run(self.ctx.subscribe(symbols, types, is_first_push=False))
        self._connected_once()
        for s in symbols:
            self.model.setdefault(s, set()).update(types)

    @rule(symbols=some_symbols, types=some_types)
    def unsubscribe(self, symbols: list[str], types: list[SubType]) -> None:
        TALLY.steps += 1
        self.run(self.ctx.unsubscribe(symbols, types))
        self._connected_once()  # even a no-op unsubscribe is a request on the socket
        for s in symbols:
            left = self.model.get(s, set()) - set(types)
            if left:
                self.model[s] = left
            else:
                self.model.pop(s, None)

    @rule(expire=st.booleans())
    def drop(self, expire: bool) -> None:
        TALLY.steps += 1
        expire = expire and self.otps < OTP_LIMIT
        self.sim.faults.reject_reconnect = expire
        self.run(self.sim.drop_quote_connections())
        self.run(self.ctx.quote(["700.HK"]))  # waits for the reconnect
        self.run(self._resynced())
        if self.otps and expire:
            self.otps += 1
            TALLY.note("expired sessions")
        self._connected_once()
        TALLY.note("drops")

    @invariant()
    def client_equals_sim(self) -> None:
        client = {s.symbol: set(s.sub_types) for s in self.ctx.subscriptions()}
        assert client == self.model
        assert self.sim_subs() == self.model
        assert self.sim.ws_servers.quote.online <= 1  # never a second quote socket
        assert self.ctx.connection_state().otp_calls == self.otps

    def teardown(self) -> None:
        self.shared.run(self.ctx.__aexit__(None, None, None))
        self.sim.faults.reject_reconnect = False
        leaked = self.shared.leaked(self.before)
        TALLY.leaked += len(leaked)
        TALLY.save()
        assert not leaked, f"tasks left running after the example: {sorted(map(str, leaked))}"


@pytest.fixture(scope="module")
def shared() -> Iterator[Shared]:
    with shared_sim() as rig:
        yield rig


def test_subscriptions_client_equals_sim(shared: Shared) -> None:
    run_state_machine_as_test(
        lambda: Subscriptions(shared), settings=machine_settings(EXAMPLES, STEPS)
    )
