"""Conditional orders in the simulator: triggers on the seeded price path, trailing stops that
follow the high/low, every status change heard by the order listeners (so pushed)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from lb_mcp.sdk.enums import OrderStatus, TriggerStatus
from lb_mcp.sim import Simulator
from lb_mcp.sim.exchange.matching import SubmitRequest
from lb_mcp.sim.exchange.orders import OrderRecord, SimError
from lb_mcp.sim.exchange.triggers import stop_of
from lb_mcp.sim.market.universe import move_ticks

from .conftest import FakeClock

D = Decimal


def _heard(sim: Simulator) -> list[OrderRecord]:
    seen: list[OrderRecord] = []
    sim.broker.add_order_listener(seen.append)
    return seen


def _run(sim: Simulator, clock: FakeClock, order_id: str, until: set[OrderStatus]) -> OrderRecord:
    for _ in range(3000):
        order = sim.ledger.order(order_id)
        assert order is not None
        if order.status in until:
            return order
        clock.advance(0.5)
        sim.market.step()
    raise AssertionError(f"order never reached {until}")


def test_a_sell_stop_limit_waits_then_triggers_when_the_price_falls_and_fills(
    sim: Simulator, clock: FakeClock
) -> None:
    heard = _heard(sim)
    last = sim.market.last_price("700.HK")
    trigger = move_ticks("700.HK", last, -2)
    req = SubmitRequest(
        "700.HK", "LIT", "Sell", D(100), "Day", move_ticks("700.HK", trigger, -5),
        trigger_price=trigger,
    )  # fmt: skip
    order = sim.broker.submit(req)
    assert (order.status, order.trigger_status) == (
        OrderStatus.VarietiesNotReported,
        TriggerStatus.Active,
    )
    assert order.to_wire()["trigger_price"] == str(trigger)
    done = _run(sim, clock, order.order_id, {OrderStatus.Filled, OrderStatus.PartialFilled})
    assert done.trigger_status is TriggerStatus.Released and done.trigger_at > 0
    # it went out only once a print was at or below the trigger
    line = next(h for h in done.history if h.status is OrderStatus.New)
    assert min(t.price for t in sim.market.trades("700.HK", 200) if t.timestamp <= line.time) <= (
        trigger
    )
    statuses = [o.status for o in heard if o.order_id == order.order_id]
    assert statuses[:3] == [
        OrderStatus.VarietiesNotReported,
        OrderStatus.WaitToNew,
        OrderStatus.New,
    ]


def test_a_buy_market_if_touched_fires_on_a_rise_and_never_rests(
    sim: Simulator, clock: FakeClock
) -> None:
    trigger = move_ticks("700.HK", sim.market.last_price("700.HK"), 2)
    req = SubmitRequest("700.HK", "MIT", "Buy", D(100), "Day", trigger_price=trigger)
    order = sim.broker.submit(req)
    assert order.price is None and order.status is OrderStatus.VarietiesNotReported
    done = _run(
        sim, clock, order.order_id,
        {OrderStatus.Filled, OrderStatus.PartialWithdrawal, OrderStatus.Rejected},
    )  # fmt: skip
    assert done.status is OrderStatus.Filled


def test_a_trailing_sell_follows_the_high_and_goes_out_offset_below_the_stop(
    sim: Simulator, clock: FakeClock
) -> None:
    req = SubmitRequest(
        "700.HK", "TSLPAMT", "Sell", D(100), "GTC",
        trailing_amount=D("1"), limit_offset=D("0.2"),
    )  # fmt: skip
    order = sim.broker.submit(req)
    start = order.trail_ref
    assert start is not None and stop_of(order) == start - 1
    highs: list[Decimal] = []
    for _ in range(3000):
        current = sim.ledger.order(order.order_id)
        assert current is not None
        if current.status is not OrderStatus.VarietiesNotReported:
            break
        assert current.trail_ref is not None
        highs.append(current.trail_ref)
        clock.advance(0.5)
        sim.market.step()
    assert highs == sorted(highs)  # the reference only ever rises
    assert current.trigger_status is TriggerStatus.Released
    released = next(h for h in current.history if h.status is OrderStatus.New)
    assert released.price <= highs[-1] - 1 - D("0.2")


def test_replace_moves_the_trail_and_a_quantity_only_replace_keeps_the_terms(
    sim: Simulator,
) -> None:
    req = SubmitRequest(
        "700.HK", "TSLPPCT", "Sell", D(100), "GTC",
        trailing_percent=D("2"), limit_offset=D("0"),
    )  # fmt: skip
    order = sim.broker.submit(req)
    sim.broker.replace(order.order_id, D(200), None)
    kept = sim.ledger.order(order.order_id)
    assert kept is not None and (kept.quantity, kept.trailing_percent) == (D(200), D("2"))
    sim.broker.replace(order.order_id, D(200), None, terms={"trailing_percent": D("3")})
    moved = sim.ledger.order(order.order_id)
    assert moved is not None and moved.trailing_percent == D("3")
    with pytest.raises(SimError):
        sim.broker.replace(order.order_id, D(200), None, terms={"trailing_percent": D("120")})


def test_gtd_conditional_orders_expire_after_their_date(sim: Simulator, clock: FakeClock) -> None:
    from datetime import date

    trigger = move_ticks("700.HK", sim.market.last_price("700.HK"), -40)
    req = SubmitRequest(
        "700.HK", "MIT", "Sell", D(100), "GTD", trigger_price=trigger,
        expire_date=date(2025, 11, 13),
    )  # fmt: skip
    order = sim.broker.submit(req)
    clock.advance(86_400)
    sim.broker.expire_due()
    expired = sim.ledger.order(order.order_id)
    assert expired is not None and expired.status is OrderStatus.Expired


def test_a_sell_estimate_answers_the_sellable_position(sim: Simulator) -> None:
    cash_qty, margin_qty = sim.broker.estimate_buy_limit("700.HK", "LO", "Sell", D("300"))
    assert cash_qty == margin_qty == sim.ledger.available_quantity("700.HK") > 0


@pytest.mark.parametrize(
    ("req", "fragment"),
    [
        (SubmitRequest("700.HK", "LIT", "Sell", D(100), "Day", D("300")), "trigger_price"),
        (SubmitRequest("700.HK", "TSLPAMT", "Sell", D(100), "Day"), "trailing_amount"),
        (
            SubmitRequest("700.HK", "TSLPPCT", "Sell", D(100), "Day", trailing_percent=D("1")),
            "limit_offset",
        ),
    ],
)
def test_conditional_orders_without_their_terms_are_refused(
    sim: Simulator, req: SubmitRequest, fragment: str
) -> None:
    with pytest.raises(SimError) as info:
        sim.broker.submit(req)
    assert info.value.code == 602001 and fragment in info.value.message
