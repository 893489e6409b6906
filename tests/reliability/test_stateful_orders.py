"""Row 15: a hypothesis stateful model of the order gate against the simulator, in process.

The gate runs as the server builds it (human confirmation through elicitation, so the model
answers each confirmation itself), on its own state files per example. Rules ask for buy
orders within and over the per-order, daily-count and daily-notional limits and outside the
price band, answer open confirmations (accept, decline, cancel) in any order, cancel and
replace the orders the model placed (also ones already closed), drop the trade socket and
restart the gate on the same state files (start-up reconciles the journal). After each step:

* every outcome is the one the model predicts from the documented rules (guards.py: band,
  per-order notional, daily count and notional; a pending confirmation holds its share);
* intent -> order is a bijection: each accepted submit has exactly one journal entry with one
  broker order id, each simulator order lb-mcp placed in the example is exactly one of those,
  and its remark names the latest accepted intent on it (the replace rewrites it); declined,
  cancelled and guard-refused intents leave no journal entry and no order;
* the guard counters are exact: today's order count and notional in ``status()`` equal the
  model's (reserved + committed intents, released ones not);
* an example leaves no task running after its teardown.
"""

from __future__ import annotations

import shutil
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass, replace
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from lb_mcp.sdk.enums import Mode, OrderSide
from lb_mcp.sdk.quote.context import QuoteContext
from lb_mcp.sdk.trade.context import TradeContext
from lb_mcp.sdk.transport.http import HttpClient
from lb_mcp.sdk.transport.ratelimit import RateLimiter
from lb_mcp.server.gate.confirm import Channel
from lb_mcp.server.gate.delivery.journal import REMARK_PREFIX, remark_for
from lb_mcp.server.gate.service import OrderGate
from lb_mcp.server.gate.values import Action, OrderRequest, Prepared, Status
from lb_mcp.server.settings import ServerSettings
from lb_mcp.sim.wire.ratelimit import SlidingWindowLimiter
from tests.sdk.fake_server import fast_options
from tests.server.orders_support import AUTO_LIMITS, Opener, order_rig, settings_for, sim_clock

from .stateful_support import (
    Hosted,
    Shared,
    Tally,
    fast_state_dir,
    machine_settings,
    shared_sim,
    sizes,
)

SYMBOLS = ["700.HK", "9988.HK", "5.HK"]
BAND_PCT = Decimal(5)
MAX_ORDER = Decimal(100_000)
MAX_DAILY = Decimal(500_000)
MAX_COUNT = 12
LIMITS = {
    "LB_MCP_PRICE_BAND_PCT": str(BAND_PCT),
    "LB_MCP_MAX_ORDER_NOTIONAL": str(MAX_ORDER),
    "LB_MCP_MAX_DAILY_NOTIONAL": str(MAX_DAILY),
    "LB_MCP_MAX_ORDERS_PER_DAY": str(MAX_COUNT),
    "LB_MCP_APPROVAL_OPEN_BROWSER": "off",
}
UNPACED = RateLimiter(
    trade_limit=10**9, trade_min_interval=0, quote_limit=10**9, quote_concurrency=64
)
EXAMPLES, STEPS = sizes(6, 12)
TALLY = Tally("orders")
# Percent below the last price: 1-4 is inside the band (and below the book, so it rests);
# 7 is outside it, below; -7 is outside it, above. Mostly inside, so orders get placed.
OFFSETS = st.sampled_from([1, 2, 3, 4, 1, 2, 7, -7])
LOTS = st.integers(1, 3)  # 3 lots of 700.HK or 5.HK are over the per-order limit
PICK = st.integers(0, 2**16)


@dataclass(frozen=True)
class Market:
    last: dict[str, Decimal]
    lot: dict[str, int]

    def price(self, symbol: str, pct: int) -> Decimal:
        raw = self.last[symbol] * (100 - pct) / 100
        whole = raw.to_integral_value(ROUND_FLOOR if pct > 0 else ROUND_CEILING)
        return Decimal(whole)  # whole dollars sit on every HK tick below 500


@dataclass(frozen=True)
class Ask:
    """An open confirmation the model expects, and what it holds of today's usage."""

    action: Action
    symbol: str
    quantity: Decimal
    price: Decimal
    notional: Decimal
    order_id: str | None  # the order a replace changes


@dataclass
class Placed:
    symbol: str
    quantity: Decimal
    price: Decimal
    intent_id: str  # the latest accepted intent on it (its remark)
    open: bool = True


def _nth(items: dict[str, Any], pick: int) -> str:
    """The pick-th key in insertion order. Not sorted: confirmation ids are random and order ids
    the broker's, so a sorted pick would differ when hypothesis replays the same draws (its
    FlakyStrategyDefinition at full size)."""
    return list(items)[pick % len(items)]


class Orders(RuleBasedStateMachine):
    def __init__(self, shared: Shared, market: Market) -> None:
        super().__init__()
        self.shared = shared
        self.sim = shared.sim
        self.market = market
        self.before = shared.tasks()
        self.baseline = {o.order_id for o in self.sim.ledger.orders()}
        self.state_dir = fast_state_dir()
        self.settings = ServerSettings.from_env(
            env={"LB_MCP_STATE_DIR": str(self.state_dir), **LIMITS}
        )
        # The SDK's own pacing (30 calls / 30 s per trade endpoint, 20 ms between trade calls)
        # is wall-clock state too: real sleeps, then local refusals the model does not predict.
        # Its tests are row 5's; here one client without it serves both contexts.
        self.http = HttpClient(self.sim.config, limiter=UNPACED)
        self.trade = TradeContext(self.sim.config, http=self.http, ws_options=fast_options())
        self.quote = QuoteContext(self.sim.config, http=self.http, options=fast_options())
        shared.run(self.trade.__aenter__())
        shared.run(self.quote.__aenter__())
        self.gate = self._open_gate()
        self.asks: dict[str, Ask] = {}  # confirmation id -> ask
        self.committed: dict[str, Decimal] = {}  # accepted intent id -> its notional
        self.orders: dict[str, Placed] = {}
        self.journal: dict[str, tuple[str, str | None]] = {}  # intent -> (state, order id)
        TALLY.examples += 1

    # -- plumbing ----------------------------------------------------------------------------

    def _open_gate(self) -> OrderGate:
        gate = OrderGate(
            settings=self.settings,
            mode=Mode.SANDBOX,
            trade=self.trade,
            quote=self.quote,
            clock=sim_clock(self.sim),
            opener=Opener(),
        )
        self.host = Hosted(self.shared, gate)
        return gate

    def run(self, coro: Any) -> Any:
        return self.shared.run(coro)

    def usage(self) -> tuple[int, Decimal]:
        held = [a.notional for a in self.asks.values() if a.action is not Action.CANCEL]
        count = len(held) + len(self.committed)
        return count, sum(held, Decimal(0)) + sum(self.committed.values(), Decimal(0))

    def expected_refusal(self, symbol: str, quantity: Decimal, price: Decimal) -> str | None:
        """The guard code the documented rules give, in guards.py's order, or None."""
        last = self.market.last[symbol]
        if abs(price - last) * 100 / last > BAND_PCT:
            return "PRICE_BAND"
        notional = quantity * max(price, last)
        if notional > MAX_ORDER:
            return "MAX_ORDER_NOTIONAL"
        count, used = self.usage()
        if count + 1 > MAX_COUNT:
            return "MAX_ORDERS_PER_DAY"
        if used + notional > MAX_DAILY:
            return "MAX_DAILY_NOTIONAL"
        return None

    def _asked(self, prepared: Prepared, ask: Ask, refusal: str | None) -> None:
        if refusal is not None:
            assert prepared.outcome is not None, f"expected {refusal}, got a confirmation"
            assert (prepared.outcome.status, prepared.outcome.code) == (Status.REFUSED, refusal)
            TALLY.note(f"refused {refusal}")
            return
        assert prepared.outcome is None, f"expected a confirmation: {prepared.outcome}"
        assert prepared.confirmation_id is not None
        self.asks[prepared.confirmation_id] = ask
        TALLY.note(f"{ask.action.value} asked")

    # -- rules -------------------------------------------------------------------------------

    @rule(symbol=st.sampled_from(SYMBOLS), lots=LOTS, pct=OFFSETS)
    def ask_submit(self, symbol: str, lots: int, pct: int) -> None:
        TALLY.steps += 1
        quantity = Decimal(lots * self.market.lot[symbol])
        price = self.market.price(symbol, pct)
        request = OrderRequest(symbol, OrderSide.Buy, quantity, price)
        refusal = self.expected_refusal(symbol, quantity, price)
        prepared = self.run(self.gate.prepare(Action.SUBMIT, request, elicitation=True))
        notional = quantity * max(price, self.market.last[symbol])
        self._asked(prepared, Ask(Action.SUBMIT, symbol, quantity, price, notional, None), refusal)

    @rule(symbol=st.sampled_from(SYMBOLS), lots=LOTS, pct=OFFSETS)
    def ask_another(self, symbol: str, lots: int, pct: int) -> None:
        """The same as ``ask_submit``: hypothesis picks among enabled rules evenly, so this
        gives new orders twice the weight of the rest."""
        self.ask_submit(symbol, lots, pct)

    @precondition(lambda self: self.orders)
    @rule(pick=PICK, lots=LOTS, pct=OFFSETS)
    def ask_replace(self, pick: int, lots: int, pct: int) -> None:
        TALLY.steps += 1
        order_id = _nth(self.orders, pick)
        placed = self.orders[order_id]
        quantity = Decimal(lots * self.market.lot[placed.symbol])
        price = self.market.price(placed.symbol, pct)
        request = OrderRequest(placed.symbol, OrderSide.Buy, quantity, price)
        refusal = (
            "ORDER_NOT_OPEN"
            if not placed.open
            else self.expected_refusal(placed.symbol, quantity, price)
        )
        prepared = self.run(
            self.gate.prepare(Action.REPLACE, request, order_id=order_id, elicitation=True)
        )
        notional = quantity * max(price, self.market.last[placed.symbol])
        ask = Ask(Action.REPLACE, placed.symbol, quantity, price, notional, order_id)
        self._asked(prepared, ask, refusal)

    @precondition(lambda self: self.asks)
    @rule(pick=PICK, answer=st.sampled_from(["accept", "accept", "decline", "cancel"]))
    def answer(self, pick: int, answer: str) -> None:
        TALLY.steps += 1
        confirmation_id = _nth(self.asks, pick)
        ask = self.asks.pop(confirmation_id)
        # What the multi-round protocol hands back: the gate finds the confirmation by its id.
        prepared = Prepared(ask.action, None, confirmation_id, Channel.ELICITATION, "")
        outcome = self.run(self.gate.decide(prepared, answer))  # type: ignore[arg-type]
        TALLY.note(f"{ask.action.value} {answer}")
        if answer != "accept":
            want = Status.DECLINED if answer == "decline" else Status.CANCELLED
            assert outcome.status is want, outcome
            return
        assert outcome.intent_id is not None
        if ask.action is Action.SUBMIT:
            assert (outcome.status, outcome.code) == (Status.PLACED, "OK"), outcome
            assert outcome.order_id is not None and outcome.order_id not in self.orders
            self.orders[outcome.order_id] = Placed(
                ask.symbol, ask.quantity, ask.price, outcome.intent_id
            )
            self.committed[outcome.intent_id] = ask.notional
            self.journal[outcome.intent_id] = ("ACCEPTED", outcome.order_id)
            return
        assert ask.order_id is not None
        placed = self.orders[ask.order_id]
        if not placed.open:
            # Closed while the human looked: the broker refuses the change, nothing is held.
            assert outcome.status is Status.FAILED, outcome
            self.journal[outcome.intent_id] = ("FAILED", None)
            TALLY.note("replace of a closed order refused by the broker")
            return
        assert (outcome.status, outcome.order_id) == (Status.PLACED, ask.order_id), outcome
        self.orders[ask.order_id] = replace(
            placed, quantity=ask.quantity, price=ask.price, intent_id=outcome.intent_id
        )
        self.committed[outcome.intent_id] = ask.notional
        self.journal[outcome.intent_id] = ("ACCEPTED", ask.order_id)

    @precondition(lambda self: self.orders)
    @rule(pick=PICK)
    def cancel(self, pick: int) -> None:
        TALLY.steps += 1
        order_id = _nth(self.orders, pick)
        placed = self.orders[order_id]
        prepared = self.run(self.gate.prepare(Action.CANCEL, order_id=order_id, elicitation=True))
        if not placed.open:
            assert prepared.outcome is not None and prepared.outcome.code == "ORDER_NOT_OPEN"
            TALLY.note("cancel of a closed order refused")
            return
        assert prepared.outcome is None and prepared.confirmation_id is not None
        outcome = self.run(self.gate.decide(prepared, "accept"))
        assert (outcome.status, outcome.order_id) == (Status.PLACED, order_id), outcome
        placed.open = False
        TALLY.note("cancel accepted")

    @rule(restart=st.sampled_from([False] * 5 + [True]))
    def disrupt(self, restart: bool) -> None:
        """Drop the trade socket, or (a sixth of the time: stopping the gate's approval page
        takes uvicorn ~0.19 s) stop the gate and start a new one on the same files:
        open confirmations die with the process and start-up gives their reservations back
        (reconcile)."""
        TALLY.steps += 1
        if not restart:
            self.run(self.sim.drop_trade_connections())
            TALLY.note("trade socket drops")
            return
        self.host.close()
        self.gate = self._open_gate()
        self.asks.clear()
        TALLY.note("restarts")

    # -- invariants --------------------------------------------------------------------------

    @invariant()
    def guard_counters_are_exact(self) -> None:
        today = self.gate.status()["today"]
        count, notional = self.usage()
        assert (today["orders"], Decimal(today["notional"])) == (count, notional)

    @invariant()
    def intents_and_orders_are_a_bijection(self) -> None:
        with sqlite3.connect(self.state_dir / "journal.db") as db:
            rows = db.execute("SELECT intent_id, state, order_id, remark FROM intents").fetchall()
        journal = {r[0]: (r[1], r[2] if r[1] == "ACCEPTED" else None) for r in rows}
        assert journal == self.journal  # no entry for a declined or refused intent
        for intent_id, _, _, remark in rows:
            assert remark == remark_for(intent_id)
        ours = {
            o.order_id: o
            for o in self.sim.ledger.orders()
            if o.order_id not in self.baseline and o.remark.startswith(REMARK_PREFIX)
        }
        assert set(ours) == set(self.orders)
        for order_id, placed in self.orders.items():
            order = ours[order_id]
            assert order.remark == remark_for(placed.intent_id)
            assert self.journal[placed.intent_id] == ("ACCEPTED", order_id)
            assert (order.quantity, order.price, order.is_open) == (
                placed.quantity,
                placed.price,
                placed.open,
            )
        submits = [
            (i, o) for i, (s, o) in self.journal.items() if s == "ACCEPTED" and o in self.orders
        ]
        first = {}
        for intent_id, order_id in submits:
            first.setdefault(order_id, intent_id)
        assert set(first) == set(self.orders)  # every order came from an accepted intent

    def teardown(self) -> None:
        try:
            self.host.close()
        finally:
            self.run(self.quote.__aexit__(None, None, None))
            self.run(self.trade.__aexit__(None, None, None))
            self.run(self.http.aclose())
        for order_id, placed in self.orders.items():
            if placed.open:  # give the shared account's cash back for the next example
                self.sim.broker.cancel(order_id)
        shutil.rmtree(self.state_dir, ignore_errors=True)
        leaked = self.shared.leaked(self.before)
        TALLY.leaked += len(leaked)
        TALLY.save()
        assert not leaked, f"tasks left running after the example: {sorted(map(str, leaked))}"


@pytest.fixture(scope="module")
def shared() -> Iterator[Shared]:
    with shared_sim() as rig:
        # The gateway's 30 calls / 30 s per trade endpoint is wall-clock state the model does
        # not predict (its 429002 refusals have their own tests); thousands of steps would hit
        # it within seconds, so this sim lets every call through.
        rig.sim.api.limiter = SlidingWindowLimiter(limit=10**9)
        yield rig


def _market(shared: Shared) -> Market:
    async def read() -> Market:
        async with QuoteContext(shared.sim.config, options=fast_options()) as q:
            quotes = await q.quote(SYMBOLS)
            infos = await q.static_info(SYMBOLS)
        return Market(
            last={x.symbol: x.last_done for x in quotes},
            lot={x.symbol: x.lot_size for x in infos},
        )

    return shared.run(read())


def test_orders_intents_bijection_and_exact_counters(shared: Shared) -> None:
    market = _market(shared)
    run_state_machine_as_test(
        lambda: Orders(shared, market), settings=machine_settings(EXAMPLES, STEPS)
    )


class CountingTrade(TradeContext):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.replaces = 0

    async def replace_order(self, *args: Any, **kwargs: Any) -> None:
        self.replaces += 1
        await super().replace_order(*args, **kwargs)


@pytest.mark.anyio
async def test_a_replace_the_broker_refuses_fails_at_once_and_gives_its_reservation_back(
    tmp_path: Path,
) -> None:
    """Found by the model: the order was cancelled while the human looked at the replace, the
    broker answered 602001, and the gate read it as "outcome unknown" (looked up, resent,
    UNKNOWN, its share of today's limits held until the next start)."""
    trades: list[CountingTrade] = []

    def factory(sim: Any) -> TradeContext:
        trades.append(CountingTrade(sim.config))
        return trades[0]

    settings = settings_for(tmp_path, **AUTO_LIMITS)
    async with order_rig(settings, trade_factory=factory) as rig:
        buy = OrderRequest("700.HK", OrderSide.Buy, Decimal(100), Decimal("395"))
        placed = await rig.service.decide(await rig.service.prepare(Action.SUBMIT, buy))
        assert placed.status is Status.PLACED and placed.order_id is not None
        change = OrderRequest("700.HK", OrderSide.Buy, Decimal(100), Decimal("394"))
        asked = await rig.service.prepare(Action.REPLACE, change, order_id=placed.order_id)
        assert rig.service.status()["today"]["orders"] == 2  # the replace holds its share
        rig.sim.broker.cancel(placed.order_id)  # closed before the approval is used
        outcome = await rig.service.decide(asked)
        today = rig.service.status()["today"]
    assert (outcome.status, outcome.code) == (Status.FAILED, "BROKER_602001")
    assert trades[0].replaces == 1  # a refusal is not resent
    assert today["orders"] == 1  # released: only the placed submit counts
