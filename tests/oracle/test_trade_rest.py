"""The official ``longbridge`` 5.3.0 SDK drives the simulator's trade REST surface.

If the simulator's wire format drifted from the real server's, the official SDK would fail to
parse (rest.md §8), so every call here is also a fidelity check. Trading tests use 9988.HK and
NVDA.US so the seeded 700.HK / AAPL.US positions stay as the brief describes.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from longbridge.openapi import (
    BalanceType,
    CashFlowDirection,
    Market,
    OpenApiException,
    OrderSide,
    OrderStatus,
    OrderType,
    OutsideRTH,
    TimeInForceType,
    TradeContext,
)

pytestmark = pytest.mark.timeout(90)

USD_HKD = Decimal("7.80")


@pytest.fixture(scope="module")
def ctx(official_config: Any) -> Iterator[Any]:
    yield TradeContext(official_config)


def _cash(ctx: Any, currency: str) -> Any:
    [entry] = ctx.account_balance()
    return next(c for c in entry.cash_infos if c.currency == currency)


def _quantity(ctx: Any, symbol: str) -> Decimal:
    for channel in ctx.stock_positions().channels:
        for position in channel.positions:
            if position.symbol == symbol:
                return Decimal(position.quantity)
    return Decimal(0)


def _filled_amount(ctx: Any, order_id: str) -> Decimal:
    trades = ctx.today_executions(order_id=order_id)
    assert trades and all(t.order_id == order_id for t in trades)
    return sum((t.price * t.quantity for t in trades), Decimal(0))


def test_account_balance_is_consistent_across_currencies(ctx: Any) -> None:
    [hkd] = ctx.account_balance()
    assert hkd.currency == "HKD"
    assert {c.currency for c in hkd.cash_infos} == {"HKD", "USD"}
    cash = {c.currency: c.available_cash + c.frozen_cash for c in hkd.cash_infos}
    assert hkd.total_cash == cash["HKD"] + cash["USD"] * USD_HKD
    assert hkd.buy_power == sum(
        (c.available_cash * (USD_HKD if c.currency == "USD" else 1) for c in hkd.cash_infos),
        Decimal(0),
    )
    assert hkd.net_assets > hkd.total_cash  # positions and the fund add value
    assert isinstance(hkd.total_cash, Decimal) and hkd.risk_level == 0
    [usd] = ctx.account_balance("USD")
    assert usd.currency == "USD"
    assert abs(usd.total_cash * USD_HKD - hkd.total_cash) < Decimal("0.05")


def test_stock_positions_show_the_seeded_holdings(ctx: Any) -> None:
    [channel] = ctx.stock_positions().channels
    assert channel.account_channel == "lb"
    held = {p.symbol: p for p in channel.positions}
    tencent, apple = held["700.HK"], held["AAPL.US"]
    assert (tencent.quantity, tencent.cost_price, tencent.currency) == (
        200,
        Decimal("352.4"),
        "HKD",
    )
    assert tencent.market == Market.HK and tencent.init_quantity == 200
    assert (apple.quantity, apple.cost_price, apple.market) == (10, Decimal("189.95"), Market.US)
    only = ctx.stock_positions(["AAPL.US"]).channels[0].positions
    assert [p.symbol for p in only] == ["AAPL.US"]


def test_fund_positions_and_margin_ratio(ctx: Any) -> None:
    [channel] = ctx.fund_positions().channels
    [fund] = channel.positions
    assert (fund.counter_id, fund.holding_units) == ("HK0000447943", Decimal("1000"))
    assert fund.current_net_asset_value == Decimal("10.523")
    ratio = ctx.margin_ratio("700.HK")
    assert (ratio.im_factor, ratio.mm_factor, ratio.fm_factor) == (
        Decimal("0.25"),
        Decimal("0.20"),
        Decimal("0.15"),
    )


def test_cash_flow_lists_the_deposits_and_the_seeded_purchases(ctx: Any) -> None:
    now = datetime.now()
    flows = ctx.cash_flow(now - timedelta(days=60), now + timedelta(minutes=1))
    deposits = [f for f in flows if f.transaction_flow_name == "Deposit"]
    assert {f.currency for f in deposits} == {"HKD", "USD"}
    assert all(f.direction == CashFlowDirection.In and f.balance > 0 for f in deposits)
    assert all(f.business_type == BalanceType.Cash for f in flows)
    buys = [f for f in flows if f.symbol == "700.HK" and f.transaction_flow_name.startswith("Buy")]
    assert buys and buys[-1].balance == Decimal("-70480.00")
    assert buys[-1].direction == CashFlowDirection.Out
    only = ctx.cash_flow(now - timedelta(days=60), now, symbol="AAPL.US")
    assert only and all(f.symbol == "AAPL.US" for f in only)


def test_estimate_max_purchase_quantity_fits_the_available_cash(ctx: Any) -> None:
    estimate = ctx.estimate_max_purchase_quantity(
        "9988.HK", OrderType.LO, OrderSide.Buy, price=Decimal("100")
    )
    available = _cash(ctx, "HKD").available_cash
    assert estimate.cash_max_qty > 0 and estimate.cash_max_qty % 100 == 0
    assert estimate.cash_max_qty * 100 <= available < (estimate.cash_max_qty + 200) * 100


def test_a_marketable_limit_order_fills_and_moves_cash_and_position(ctx: Any) -> None:
    cash_before = _cash(ctx, "HKD").available_cash
    held_before = _quantity(ctx, "9988.HK")
    # The walk stays within ±8 % of 120.00, so 135.00 always crosses the ask.
    response = ctx.submit_order(
        "9988.HK",
        OrderType.LO,
        OrderSide.Buy,
        Decimal(100),
        TimeInForceType.Day,
        submitted_price=Decimal("135.00"),
        remark="oracle-fill",
    )
    assert response.order_id.isdigit() and len(response.order_id) in (18, 19)
    detail = ctx.order_detail(response.order_id)
    assert detail.status == OrderStatus.Filled
    assert (detail.executed_quantity, detail.price) == (100, Decimal("135.00"))
    assert detail.remark == "oracle-fill" and detail.executed_price <= Decimal("135.00")
    amount = _filled_amount(ctx, response.order_id)
    fees = detail.charge_detail.total_amount
    assert fees > 0 and detail.charge_detail.currency == "HKD"
    assert _cash(ctx, "HKD").available_cash == cash_before - amount - fees
    assert _quantity(ctx, "9988.HK") == held_before + 100
    assert detail.history[0].status == OrderStatus.Filled  # newest first


def test_a_us_limit_order_fills_in_usd(ctx: Any) -> None:
    cash_before = _cash(ctx, "USD").available_cash
    response = ctx.submit_order(
        "NVDA.US",
        OrderType.LO,
        OrderSide.Buy,
        Decimal(3),
        TimeInForceType.Day,
        submitted_price=Decimal("150.00"),
    )
    [order] = ctx.today_orders(order_id=response.order_id)
    assert order.status == OrderStatus.Filled and order.outside_rth == OutsideRTH.RTHOnly
    fees = ctx.order_detail(response.order_id).charge_detail.total_amount
    amount = _filled_amount(ctx, response.order_id)
    assert _cash(ctx, "USD").available_cash == cash_before - amount - fees


def test_a_resting_order_can_be_replaced_then_cancelled(ctx: Any) -> None:
    available = _cash(ctx, "HKD").available_cash
    response = ctx.submit_order(
        "9988.HK",
        OrderType.LO,
        OrderSide.Buy,
        Decimal(100),
        TimeInForceType.Day,
        submitted_price=Decimal("90.00"),
    )
    order_id = response.order_id
    working = ctx.order_detail(order_id)
    assert working.status == OrderStatus.New and working.executed_price is None
    frozen = _cash(ctx, "HKD")
    assert frozen.frozen_cash > Decimal("9000") and frozen.available_cash < available - 9000

    ctx.replace_order(order_id, Decimal(200), price=Decimal("90.10"))
    replaced = ctx.order_detail(order_id)
    assert (replaced.status, replaced.quantity, replaced.price) == (
        OrderStatus.New,
        200,
        Decimal("90.10"),
    )
    assert OrderStatus.Replaced in [h.status for h in replaced.history]

    ctx.cancel_order(order_id)
    assert ctx.order_detail(order_id).status == OrderStatus.Canceled
    assert _cash(ctx, "HKD").available_cash == available


def test_today_orders_filter_by_symbol_and_status(ctx: Any) -> None:
    ctx.submit_order(
        "9988.HK",
        OrderType.LO,
        OrderSide.Buy,
        Decimal(100),
        TimeInForceType.GoodTilCanceled,
        submitted_price=Decimal("91.00"),
    )
    working = ctx.today_orders(symbol="9988.HK", status=[OrderStatus.New])
    assert working and all(o.symbol == "9988.HK" and o.status == OrderStatus.New for o in working)
    assert any(o.time_in_force == TimeInForceType.GoodTilCanceled for o in working)
    everything = ctx.today_orders()
    assert {o.symbol for o in everything} >= {"9988.HK"}
    assert all(isinstance(o.submitted_at, datetime) for o in everything)
    for order in working:
        ctx.cancel_order(order.order_id)


def test_history_orders_and_executions_include_the_seeded_purchases(ctx: Any) -> None:
    now = datetime.now()
    orders = ctx.history_orders(start_at=now - timedelta(days=30), end_at=now)
    seeded = [o for o in orders if o.symbol == "700.HK" and o.quantity == 200]
    assert seeded and seeded[0].status == OrderStatus.Filled
    assert seeded[0].executed_price == Decimal("352.4")
    assert all(o.symbol == "AAPL.US" for o in ctx.history_orders(symbol="AAPL.US"))
    trades = ctx.history_executions(start_at=now - timedelta(days=30), end_at=now)
    prices = {(t.symbol, t.price, t.quantity) for t in trades}
    assert ("700.HK", Decimal("352.4"), 200) in prices
    assert ("AAPL.US", Decimal("189.95"), 10) in prices
    assert all(t.trade_done_at < now - timedelta(hours=1) for t in trades)  # not today's


def test_today_executions_list_todays_fills_only(ctx: Any) -> None:
    ctx.submit_order(
        "NVDA.US",
        OrderType.LO,
        OrderSide.Buy,
        Decimal(1),
        TimeInForceType.Day,
        submitted_price=Decimal("150.00"),
    )
    trades = ctx.today_executions()
    assert trades and {t.symbol for t in trades} <= {"9988.HK", "NVDA.US"}
    assert all(t.side == OrderSide.Buy and t.trade_id for t in trades)


def test_a_lot_size_violation_is_602001(ctx: Any) -> None:
    with pytest.raises(OpenApiException) as info:
        ctx.submit_order(
            "700.HK",
            OrderType.LO,
            OrderSide.Buy,
            Decimal(150),
            TimeInForceType.Day,
            submitted_price=Decimal("400.00"),
        )
    assert info.value.code == 602001
    assert "lot size" in info.value.message


def test_an_unknown_order_is_602023(ctx: Any) -> None:
    with pytest.raises(OpenApiException) as detail:
        ctx.order_detail("706388312699592704")
    assert detail.value.code == 602023
    with pytest.raises(OpenApiException) as cancel:
        ctx.cancel_order("706388312699592704")
    assert cancel.value.code == 602023
