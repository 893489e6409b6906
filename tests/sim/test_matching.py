from __future__ import annotations

from decimal import Decimal

import pytest

from lb_mcp.sdk.enums import OrderSide, OrderStatus
from lb_mcp.sim import Simulator
from lb_mcp.sim.exchange.fees import total_fees
from lb_mcp.sim.exchange.matching import SubmitRequest
from lb_mcp.sim.exchange.orders import OrderRecord, SimError
from lb_mcp.sim.market.universe import move_ticks

from .conftest import FakeClock

D = Decimal


def _lo(symbol: str, side: str, qty: int, price: Decimal | str, **kw: object) -> SubmitRequest:
    return SubmitRequest(symbol, "LO", side, D(qty), "Day", price=D(price), **kw)  # type: ignore[arg-type]


def _refused(sim: Simulator, req: SubmitRequest) -> SimError:
    with pytest.raises(SimError) as info:
        sim.broker.submit(req)
    return info.value


def _step_until(sim: Simulator, clock: FakeClock, order_id: str, status: OrderStatus) -> None:
    for _ in range(2000):
        order = sim.ledger.order(order_id)
        assert order is not None
        if order.status is status:
            return
        clock.advance(0.5)
        sim.market.step()
    raise AssertionError(f"order never reached {status}")


def test_a_marketable_buy_fills_at_the_ask_and_moves_cash_and_position(sim: Simulator) -> None:
    ask = sim.market.depth("700.HK").asks[0].price
    cash = sim.ledger.cash["HKD"]
    order = sim.broker.submit(_lo("700.HK", "Buy", 100, move_ticks("700.HK", ask, 5)))
    assert order.status is OrderStatus.Filled
    assert order.executed_price == ask
    fee = total_fees(order.market, OrderSide.Buy, ask * 100, D(100))
    assert sim.ledger.cash["HKD"] == cash - ask * 100 - fee
    assert sim.ledger.frozen_cash("HKD") == 0
    position = sim.ledger.position("700.HK")
    assert position is not None and position.quantity == 300
    assert position.cost_price == ((D("352.4") * 200 + ask * 100) / 300).quantize(D("0.001"))
    [execution] = [e for e in sim.ledger.executions() if e.order_id == order.order_id]
    assert (execution.price, execution.quantity) == (ask, D(100))


def test_a_resting_buy_freezes_cash_then_fills_when_the_price_crosses(
    sim: Simulator, clock: FakeClock
) -> None:
    limit = move_ticks("700.HK", sim.market.last_price("700.HK"), -3)
    order = sim.broker.submit(_lo("700.HK", "Buy", 100, limit))
    assert order.status is OrderStatus.New
    fee = total_fees(order.market, OrderSide.Buy, limit * 100, D(100))
    assert sim.ledger.frozen_cash("HKD") == limit * 100 + fee
    assert sim.ledger.frozen_fees("HKD") == fee
    _step_until(sim, clock, order.order_id, OrderStatus.Filled)
    filled = sim.ledger.order(order.order_id)
    assert filled is not None and filled.executed_price <= limit
    assert sim.ledger.frozen_cash("HKD") == 0


def test_an_order_larger_than_the_visible_depth_fills_partially_and_rests(sim: Simulator) -> None:
    best = sim.market.depth("700.HK").asks[0]
    order = sim.broker.submit(_lo("700.HK", "Buy", best.volume + 100, best.price))
    assert order.status is OrderStatus.PartialFilled
    assert order.executed_quantity == best.volume and order.remaining == 100
    frozen, _ = sim.ledger.frozen_for(order)
    assert frozen > best.price * 100
    cancelled = sim.broker.cancel(order.order_id)
    assert cancelled.status is OrderStatus.PartialWithdrawal


def test_cancel_releases_the_frozen_cash(sim: Simulator) -> None:
    available = sim.ledger.available_cash("HKD")
    order = sim.broker.submit(_lo("700.HK", "Buy", 200, "300.00"))
    assert sim.ledger.available_cash("HKD") < available - 60_000
    cancelled = sim.broker.cancel(order.order_id)
    assert cancelled.status is OrderStatus.Canceled
    assert sim.ledger.available_cash("HKD") == available
    assert sim.ledger.frozen_cash("HKD") == 0
    with pytest.raises(SimError) as again:
        sim.broker.cancel(order.order_id)
    assert again.value.code == 602001


def test_replace_changes_quantity_and_price_of_a_working_order_only(sim: Simulator) -> None:
    order = sim.broker.submit(_lo("700.HK", "Buy", 100, "300.00", remark="first"))
    replaced = sim.broker.replace(order.order_id, D(300), D("300.20"))
    assert (replaced.status, replaced.quantity, replaced.price) == (
        OrderStatus.New,
        D(300),
        D("300.20"),
    )
    assert replaced.remark == "first"
    assert [line.status for line in replaced.history][-1] is OrderStatus.Replaced
    with pytest.raises(SimError) as bad_lot:
        sim.broker.replace(order.order_id, D(250), None)
    assert bad_lot.value.code == 602001
    with pytest.raises(SimError) as unknown:
        sim.broker.replace("1", D(100), D("300"))
    assert unknown.value.code == 602023
    sim.broker.cancel(order.order_id)
    with pytest.raises(SimError) as final:
        sim.broker.replace(order.order_id, D(100), D("300"))
    assert final.value.code == 602001


def test_replacing_to_a_marketable_price_fills(sim: Simulator) -> None:
    order = sim.broker.submit(_lo("AAPL.US", "Buy", 5, "150.00"))
    ask = sim.market.depth("AAPL.US").asks[0].price
    filled = sim.broker.replace(order.order_id, D(5), move_ticks("AAPL.US", ask, 2))
    assert filled.status is OrderStatus.Filled and filled.executed_price == ask


@pytest.mark.parametrize(
    ("req", "fragment"),
    [
        (_lo("700.HK", "Buy", 150, "400.00"), "lot size 100"),
        (_lo("700.HK", "Buy", 100, "400.10"), "tick"),
        (_lo("700.HK", "Buy", 0, "400.00"), "greater than 0"),
        (_lo("700.HK", "Buy", 1_000_000, "400.00"), "insufficient cash"),
        (_lo("700.HK", "Sell", 300, "400.00"), "insufficient available position"),
        (_lo("NOPE.HK", "Buy", 100, "1.00"), "unknown symbol"),
        (_lo("600519.SH", "Buy", 100, "1500.00"), "not supported"),
        (SubmitRequest("700.HK", "LO", "Buy", D(100), "Day"), "submitted_price is required"),
        (SubmitRequest("700.HK", "TSMAMT", "Buy", D(100), "Day"), "not supported in sim"),
        (SubmitRequest("AAPL.US", "ELO", "Buy", D(1), "Day", D("190")), "only available in"),
        (SubmitRequest("700.HK", "LO", "Buy", D(100), "GTD", D("400")), "expire_date"),
        (_lo("700.HK", "Buy", 100, "400.00", remark="x" * 256), "remark"),
        (SubmitRequest("700.HK", "LO", "Up", D(100), "Day", D("400")), "invalid side"),
    ],
)
def test_invalid_orders_are_refused_with_602001_and_a_clear_message(
    sim: Simulator, req: SubmitRequest, fragment: str
) -> None:
    error = _refused(sim, req)
    assert error.code == 602001 and fragment in error.message
    assert len(sim.ledger.orders()) == 2  # only the seeded history


def test_shares_reserved_by_an_open_sell_are_not_available(sim: Simulator) -> None:
    sim.broker.submit(_lo("700.HK", "Sell", 200, "480.00"))
    assert sim.ledger.available_quantity("700.HK") == 0
    error = _refused(sim, _lo("700.HK", "Sell", 100, "480.00"))
    assert "insufficient available position" in error.message


def test_the_same_client_request_id_returns_the_original_order(
    sim: Simulator, clock: FakeClock
) -> None:
    first = sim.broker.submit(_lo("700.HK", "Buy", 100, "300.00", client_request_id="abc-1"))
    again = sim.broker.submit(_lo("700.HK", "Buy", 100, "300.00", client_request_id="abc-1"))
    assert again.order_id == first.order_id
    assert len(sim.ledger.open_orders()) == 1
    clock.advance(601)
    later = sim.broker.submit(_lo("700.HK", "Buy", 100, "300.00", client_request_id="abc-1"))
    assert later.order_id != first.order_id


def test_listeners_see_every_state_change_with_complete_push_data(sim: Simulator) -> None:
    seen: list[OrderRecord] = []
    sim.broker.add_order_listener(seen.append)
    ask = sim.market.depth("700.HK").asks[0].price
    order = sim.broker.submit(_lo("700.HK", "Buy", 100, ask, remark="sim-0001"))
    resting = sim.broker.submit(_lo("700.HK", "Buy", 100, "300.00"))
    sim.broker.cancel(resting.order_id)
    assert [r.status for r in seen] == [
        OrderStatus.WaitToNew,
        OrderStatus.New,
        OrderStatus.Filled,
        OrderStatus.WaitToNew,
        OrderStatus.New,
        OrderStatus.WaitToCancel,
        OrderStatus.Canceled,
    ]
    data = seen[2].push_data(sim.ledger.account_no)
    assert all(isinstance(v, str) for v in data.values())
    assert data["order_id"] == order.order_id and data["remark"] == "sim-0001"
    assert D(data["executed_price"]) == ask and data["last_share"] == "100"
    assert set(data) >= {"trigger_at", "account_no", "remark", "last_price", "tag"}
    assert seen[1].push_data("x")["executed_price"] == "0"


def test_order_ids_are_increasing_18_to_19_digit_strings(sim: Simulator) -> None:
    ids = [sim.broker.submit(_lo("700.HK", "Buy", 100, "300.00")).order_id for _ in range(3)]
    assert all(i.isdigit() and 18 <= len(i) <= 19 for i in ids)
    assert [int(i) for i in ids] == sorted(int(i) for i in ids) and len(set(ids)) == 3


def test_a_market_order_takes_the_book(sim: Simulator) -> None:
    order = sim.broker.submit(SubmitRequest("AAPL.US", "MO", "Sell", D(10), "Day"))
    assert order.status is OrderStatus.Filled
    assert sim.ledger.position("AAPL.US") is not None
    assert sim.ledger.available_quantity("AAPL.US") == 0


def test_day_orders_expire_when_the_trading_date_changes(sim: Simulator, clock: FakeClock) -> None:
    order = sim.broker.submit(_lo("700.HK", "Buy", 100, "300.00"))
    clock.advance(86_400)
    sim.broker.expire_due()
    expired = sim.ledger.order(order.order_id)
    assert expired is not None and expired.status is OrderStatus.Expired
    assert sim.ledger.frozen_cash("HKD") == 0


def test_an_order_while_closed_in_real_hours_waits_as_not_reported_until_the_open() -> None:
    clock = FakeClock(1_763_280_000.0)  # Sunday 2025-11-16 16:00 in Hong Kong
    sim = Simulator(hours="real", tick=False, clock=clock)
    seen: list[tuple[str, OrderStatus]] = []
    sim.broker.add_order_listener(lambda o: seen.append((o.order_id, o.status)))
    order = sim.broker.submit(_lo("700.HK", "Buy", 100, "300.00"))
    assert order.status is OrderStatus.NotReported
    assert sim.ledger.frozen_cash("HKD") > 0  # the cash is held while it waits
    sim.market.step()  # still closed: nothing happens
    assert sim.ledger.order(order.order_id).status is OrderStatus.NotReported  # type: ignore[union-attr]
    clock.advance(86_400 - 6 * 3_600 - 1_800 + 60)  # Monday 09:31 in Hong Kong
    sim.market.step()
    released = sim.ledger.order(order.order_id)
    assert released is not None and released.status is OrderStatus.New
    mine = [status for order_id, status in seen if order_id == order.order_id]
    assert mine == [OrderStatus.WaitToNew, OrderStatus.NotReported, OrderStatus.New]
    assert [line.status for line in released.history] == [OrderStatus.NotReported, OrderStatus.New]


def test_a_not_reported_order_can_be_cancelled_before_the_open() -> None:
    sim = Simulator(hours="real", tick=False, clock=FakeClock(1_763_280_000.0))
    order = sim.broker.submit(_lo("AAPL.US", "Buy", 1, "150.00"))
    assert order.status is OrderStatus.NotReported
    assert sim.broker.cancel(order.order_id).status is OrderStatus.Canceled


def test_the_seeded_account_matches_the_brief(sim: Simulator) -> None:
    assert sim.ledger.cash == {"HKD": D("1000000.00"), "USD": D("100000.00")}
    held = {p.symbol: (p.quantity, p.cost_price) for p in sim.ledger.positions()}
    assert held == {"700.HK": (D(200), D("352.400")), "AAPL.US": (D(10), D("189.950"))}
    assert all(o.status is OrderStatus.Filled for o in sim.ledger.orders())
