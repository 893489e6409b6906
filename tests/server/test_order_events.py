"""Order states for the client only move forward; a stale push is reconciled by REST."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from lb_mcp.sdk.enums import Market, OrderSide, OrderStatus, TimeInForceType
from lb_mcp.server.gate.events import OrderEvents, OrderState
from lb_mcp.server.gate.values import Action, OrderRequest
from lb_mcp.sim import Simulator
from lb_mcp.sim.market.sessions import local_date
from lb_mcp.sim.market.universe import move_ticks

from .orders_support import AUTO_LIMITS, order_rig, settings_for

pytestmark = pytest.mark.anyio
T0 = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)
NEW = OrderState(
    "1", "700.HK", "Buy", "LO", OrderStatus.New, Decimal(100), Decimal(0), Decimal("400"),
    None, None, T0, "lbmcp:x", "",
)  # fmt: skip


def _at(status: OrderStatus, seconds: int, executed: int = 0) -> OrderState:
    return replace(
        NEW,
        status=status,
        updated_at=T0 + timedelta(seconds=seconds),
        executed_quantity=Decimal(executed),
    )


class FakeTrade:
    """Answers ``order_detail`` with the broker's truth."""

    def __init__(self, truth: Any) -> None:
        self.truth = truth
        self.asked = 0

    async def order_detail(self, order_id: str) -> Any:
        self.asked += 1
        return self.truth


def test_states_move_forward_and_a_final_one_never_changes() -> None:
    events = OrderEvents(FakeTrade(None))  # type: ignore[arg-type]
    heard: list[int] = []
    events.listen(lambda: heard.append(events.seq))
    assert events.merge(_at(OrderStatus.WaitToNew, 0)) is True
    assert events.merge(_at(OrderStatus.New, 1)) is True
    assert events.merge(_at(OrderStatus.New, 1)) is False  # the same state again: no event
    assert events.merge(_at(OrderStatus.PartialFilled, 2, 50)) is True
    assert events.merge(_at(OrderStatus.New, 3)) is None  # executed quantity cannot go back
    assert events.merge(_at(OrderStatus.Filled, 4, 100)) is True
    assert events.merge(_at(OrderStatus.Canceled, 5, 100), authoritative=True) is None
    state = events.get("1")
    assert state is not None and state.status is OrderStatus.Filled
    assert heard == [1, 2, 3, 4]
    changes = events.changes_since(2)
    assert [o.status for o in changes.orders] == [OrderStatus.Filled] and changes.cursor == 4
    assert events.changes_since(99).reset is True


async def test_an_out_of_order_push_is_dropped_and_the_order_read_from_the_broker() -> None:
    truth = _Order(OrderStatus.PartialFilled, 50)
    trade = FakeTrade(truth)
    events = OrderEvents(trade)  # type: ignore[arg-type]
    events.merge(_at(OrderStatus.PartialFilled, 5, 50))
    stale = _Push(OrderStatus.New, 0, T0)  # an older push arriving late
    await events.on_push(stale)  # type: ignore[arg-type]
    state = events.get("1")
    assert trade.asked == 1 and events.stale_pushes == 1
    assert state is not None and (state.status, state.executed_quantity) == (
        OrderStatus.PartialFilled,
        Decimal(50),
    )


class _Order:
    def __init__(self, status: OrderStatus, executed: int) -> None:
        self.order_id, self.symbol, self.status = "1", "700.HK", status
        self.side = self.order_type = SimpleNamespace(value="x")
        self.quantity, self.executed_quantity = Decimal(100), Decimal(executed)
        self.price, self.executed_price, self.trigger_price = Decimal("400"), None, None
        self.updated_at, self.remark, self.msg = T0 + timedelta(seconds=9), "lbmcp:x", ""


class _Push(_Order):
    def __init__(self, status: OrderStatus, executed: int, at: datetime) -> None:
        super().__init__(status, executed)
        self.submitted_quantity, self.submitted_price = self.quantity, self.price
        self.updated_at = at


async def test_a_gtd_order_is_placed_and_its_expiry_reaches_the_order_events(
    tmp_path: Path,
) -> None:
    clock = FakeClock()
    async with Simulator(seed=7, tick=False, clock=clock) as sim:
        settings = settings_for(tmp_path, **AUTO_LIMITS)
        async with order_rig(settings, sim=sim) as rig:
            today = local_date(Market.HK, clock())
            low = move_ticks("700.HK", sim.market.last_price("700.HK"), -20)
            request = OrderRequest(
                "700.HK", OrderSide.Buy, Decimal(100), low,
                time_in_force=TimeInForceType.GoodTilDate, expire_date=today,
            )  # fmt: skip
            outcome = await rig.service.decide(await rig.service.prepare(Action.SUBMIT, request))
            assert outcome.order_id is not None, outcome
            clock.advance(86_400)  # the next day in Hong Kong
            sim.broker.expire_due()
            await rig.service.events.refresh(outcome.order_id)
            state = rig.service.events.get(outcome.order_id)
    assert state is not None and state.status is OrderStatus.Expired


class FakeClock:
    def __init__(self) -> None:
        self.now = 1_763_000_000.0  # a Thursday, 10:13 in Hong Kong

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds
