"""Our ``TradeContext`` against the embedded simulator, in process, over real loopback HTTP."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import anyio
import httpx
import pytest

from lb_mcp.sdk import (
    AuthError,
    HttpClient,
    OrderError,
    OrderSide,
    OrderStatus,
    OrderType,
    RateLimiter,
    TimeInForceType,
    TradeContext,
)
from lb_mcp.sim import Simulator
from tests.sdk.test_http import VirtualTimeLoop, run_virtual

pytestmark = pytest.mark.anyio

# Thursday 2025-11-13 02:13:20 UTC = 10:13 in Hong Kong: the HK morning session.
T0 = 1_763_000_000.0
HKD_PER_USD = Decimal("7.80")


@pytest.fixture
async def sim() -> AsyncIterator[Simulator]:
    async with Simulator(seed=7, tick=False, clock=lambda: T0) as simulator:
        yield simulator


@pytest.fixture
async def ctx(sim: Simulator) -> AsyncIterator[TradeContext]:
    async with TradeContext(sim.config) as context:
        yield context


async def buy(ctx: TradeContext, quantity: int, price: str, symbol: str = "700.HK") -> str:
    response = await ctx.submit_order(
        symbol,
        OrderType.LO,
        OrderSide.Buy,
        Decimal(quantity),
        TimeInForceType.Day,
        submitted_price=Decimal(price),
        remark="h2-test",
    )
    return response.order_id


# --- reads ----------------------------------------------------------------------------------


async def test_the_seeded_balance_is_read_with_exact_decimals(
    sim: Simulator, ctx: TradeContext
) -> None:
    with anyio.fail_after(10):
        (balance,) = await ctx.account_balance()
    assert balance.currency == "HKD"
    cash = {c.currency: c for c in balance.cash_infos}
    assert cash["HKD"].available_cash == Decimal("1000000.00")
    assert cash["USD"].available_cash == Decimal("100000.00")
    assert cash["HKD"].frozen_cash == 0
    assert balance.total_cash == Decimal("1000000.00") + Decimal("100000.00") * HKD_PER_USD
    assert balance.frozen_transaction_fees == []
    assert cash["HKD"].available_cash == sim.ledger.available_cash("HKD")


async def test_positions_and_funds_match_the_seed(ctx: TradeContext) -> None:
    with anyio.fail_after(10):
        stocks = await ctx.stock_positions()
        only_tencent = await ctx.stock_positions(["700.HK"])
        funds = await ctx.fund_positions()
    (channel,) = stocks.channels
    held = {p.symbol: p for p in channel.positions}
    assert held["700.HK"].quantity == Decimal(200)
    assert held["700.HK"].cost_price == Decimal("352.4")
    assert held["AAPL.US"].quantity == Decimal(10)
    assert held["AAPL.US"].cost_price == Decimal("189.95")
    assert [p.symbol for p in only_tencent.channels[0].positions] == ["700.HK"]
    fund = funds.channels[0].positions[0]
    assert fund.counter_id == "HK0000447943"
    assert fund.holding_units == Decimal("1000.00")


async def test_margin_estimate_and_cash_flow_are_read(sim: Simulator, ctx: TradeContext) -> None:
    with anyio.fail_after(10):
        ratio = await ctx.margin_ratio("700.HK")
        estimate = await ctx.estimate_max_purchase_quantity(
            "700.HK", OrderType.LO, OrderSide.Buy, price=Decimal(400)
        )
        flows = await ctx.cash_flow(
            datetime.fromtimestamp(T0 - 40 * 86_400, UTC), datetime.fromtimestamp(T0, UTC)
        )
    assert (ratio.im_factor, ratio.mm_factor, ratio.fm_factor) == (
        Decimal("0.25"),
        Decimal("0.20"),
        Decimal("0.15"),
    )
    expected = sim.broker.estimate_buy_limit("700.HK", "LO", "Buy", Decimal(400))
    assert (estimate.cash_max_qty, estimate.margin_max_qty) == expected
    assert estimate.cash_max_qty % 100 == 0
    assert 0 < estimate.cash_max_qty <= Decimal(1_000_000) / 400
    deposits = [f for f in flows if f.transaction_flow_name == "Deposit"]
    assert {f.currency for f in deposits} == {"HKD", "USD"}
    assert all(f.balance > 0 and f.symbol is None for f in deposits)


async def test_history_shows_the_seeded_purchases(ctx: TradeContext) -> None:
    with anyio.fail_after(10):
        orders = await ctx.history_orders(status=[OrderStatus.Filled])
        trades = await ctx.history_executions(
            "700.HK", datetime.fromtimestamp(T0 - 30 * 86_400, UTC), datetime.fromtimestamp(T0, UTC)
        )
    assert {o.symbol for o in orders} == {"700.HK", "AAPL.US"}
    assert all(o.status is OrderStatus.Filled for o in orders)
    (trade,) = trades
    assert (trade.quantity, trade.price, trade.side) == (
        Decimal(200),
        Decimal("352.4"),
        OrderSide.Buy,
    )


# --- orders ---------------------------------------------------------------------------------


async def test_a_resting_buy_freezes_cash_and_can_be_replaced_and_cancelled(
    sim: Simulator, ctx: TradeContext
) -> None:
    with anyio.fail_after(10):
        order_id = await buy(ctx, 100, "300")
        detail = await ctx.order_detail(order_id)
        today = await ctx.today_orders(status=[OrderStatus.New])
        (balance,) = await ctx.account_balance()
    assert detail.status is OrderStatus.New
    assert (detail.quantity, detail.price, detail.remark) == (Decimal(100), Decimal(300), "h2-test")
    assert detail.executed_price is None
    assert order_id in {o.order_id for o in today}
    hkd = next(c for c in balance.cash_infos if c.currency == "HKD")
    (fee,) = balance.frozen_transaction_fees
    assert hkd.frozen_cash == Decimal(30_000) + fee.frozen_transaction_fee
    assert hkd.available_cash == Decimal("1000000.00") - hkd.frozen_cash

    with anyio.fail_after(10):
        await ctx.replace_order(order_id, Decimal(200), Decimal("300.2"), remark="bigger")
        replaced = await ctx.order_detail(order_id)
    assert (replaced.quantity, replaced.price, replaced.remark) == (
        Decimal(200),
        Decimal("300.2"),
        "bigger",
    )
    assert replaced.status is OrderStatus.New
    assert OrderStatus.Replaced in {line.status for line in replaced.history}

    with anyio.fail_after(10):
        await ctx.cancel_order(order_id)
        cancelled = await ctx.order_detail(order_id)
        (after,) = await ctx.account_balance()
    assert cancelled.status is OrderStatus.Canceled
    assert next(c for c in after.cash_infos if c.currency == "HKD").frozen_cash == 0
    assert sim.ledger.order(order_id) is not None
    assert sim.ledger.order(order_id).status is OrderStatus.Canceled  # type: ignore[union-attr]


async def test_a_marketable_buy_fills_and_shows_in_executions(
    sim: Simulator, ctx: TradeContext
) -> None:
    best_ask = sim.market.depth("700.HK").asks[0]
    assert best_ask.volume >= 100
    with anyio.fail_after(10):
        order_id = await buy(ctx, 100, str(best_ask.price))
        detail = await ctx.order_detail(order_id)
        trades = await ctx.today_executions(order_id=order_id)
        stocks = await ctx.stock_positions(["700.HK"])
    assert detail.status is OrderStatus.Filled
    assert detail.executed_quantity == Decimal(100)
    assert detail.executed_price == best_ask.price
    (trade,) = trades
    assert (trade.order_id, trade.quantity, trade.price, trade.side) == (
        order_id,
        Decimal(100),
        best_ask.price,
        OrderSide.Buy,
    )
    assert stocks.channels[0].positions[0].quantity == Decimal(300)
    assert detail.charge_detail is not None
    assert detail.charge_detail.total_amount > 0


# --- error paths ----------------------------------------------------------------------------


async def test_a_bad_signature_is_refused_with_403201(sim: Simulator) -> None:
    config = dataclasses.replace(sim.config, app_secret="not-the-secret")
    async with TradeContext(config) as ctx:
        with anyio.fail_after(10), pytest.raises(AuthError) as info:
            await ctx.account_balance()
    assert info.value.code == 403201
    assert info.value.trace_id
    assert "not-the-secret" not in f"{info.value} {info.value!r}"


async def test_an_invalid_token_is_refused_with_401003(sim: Simulator) -> None:
    config = dataclasses.replace(sim.config, access_token="sim_token_expired")
    async with TradeContext(config) as ctx:
        with anyio.fail_after(10), pytest.raises(AuthError) as info:
            await ctx.today_orders()
    assert info.value.code == 401003


async def test_an_unknown_order_id_is_602023(ctx: TradeContext) -> None:
    with anyio.fail_after(10):
        for call in (ctx.order_detail("1"), ctx.cancel_order("1")):
            with pytest.raises(OrderError) as info:
                await call
            assert info.value.code == 602023


@pytest.mark.parametrize(
    ("quantity", "price", "reason"),
    [
        (50, "400", "lot size"),  # 700.HK trades in lots of 100
        (100, "400.01", "tick"),  # the HK step between 200 and 500 is 0.20
        (100_000, "400", "insufficient cash"),  # 40 M HKD against 1 M of cash
    ],
)
async def test_refused_orders_are_602001_and_leave_no_trace(
    sim: Simulator, ctx: TradeContext, quantity: int, price: str, reason: str
) -> None:
    before = len(sim.ledger.orders())
    with anyio.fail_after(10), pytest.raises(OrderError) as info:
        await buy(ctx, quantity, price)
    assert info.value.code == 602001
    assert reason in info.value.message
    assert len(sim.ledger.orders()) == before


# --- rate limiting on virtual time ----------------------------------------------------------


def test_a_burst_of_40_calls_to_one_endpoint_is_queued_and_none_is_refused() -> None:
    """Sim and limiter share the loop's virtual clock, so the 30 s window passes instantly."""

    async def main(loop: VirtualTimeLoop) -> tuple[list[Any], float]:
        base = loop.time()

        def clock() -> float:
            return T0 + (loop.time() - base)

        async with Simulator(seed=7, tick=False, clock=clock) as simulator:
            http = HttpClient(
                simulator.config,
                # A fresh connection per call: the loopback round trip then never waits on
                # anything the virtual clock could jump over.
                transport=httpx.AsyncHTTPTransport(
                    limits=httpx.Limits(max_keepalive_connections=0)
                ),
                clock=clock,
                limiter=RateLimiter(clock=loop.time, trade_margin=1.0, max_wait=None),
            )
            async with TradeContext(simulator.config, http=http) as context:
                results = await asyncio.gather(*(context.today_orders() for _ in range(40)))
            await http.aclose()
        return results, loop.time() - base

    results, elapsed = run_virtual(main)
    assert len(results) == 40  # a 429002 from the sim would have raised RateLimitError
    assert all(orders == [] for orders in results)  # the seeded purchases are not from today
    assert elapsed >= 30.0  # calls 31..40 waited for the window
