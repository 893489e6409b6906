"""The official ``longbridge`` 5.3.0 ``TradeContext`` receives the simulator's order pushes.

The SDK drops an ``order_changed_lb`` notification silently when a key is missing or a value
does not parse (protocol.md §6.4), so receiving New and then Canceled with the right order id
proves the payload is complete. Callbacks arrive on the SDK's thread: wait on events.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from longbridge.openapi import (
    OrderSide,
    OrderStatus,
    OrderType,
    QuoteContext,
    TimeInForceType,
    TopicType,
    TradeContext,
)

pytestmark = pytest.mark.timeout(60)

WAIT_S = 10.0


@pytest.fixture(scope="module")
def trade(official_config: Any) -> Iterator[Any]:
    yield TradeContext(official_config)


def test_a_submitted_then_cancelled_order_is_pushed_as_new_then_canceled(
    trade: Any, official_config: Any
) -> None:
    changes: list[Any] = []
    lock = threading.Lock()
    changed = threading.Condition(lock)

    def on_order_changed(event: Any) -> None:
        with changed:
            changes.append(event)
            changed.notify_all()

    def wait_for(order_id: str, status: Any) -> None:
        with changed:
            ok = changed.wait_for(
                lambda: any(c.order_id == order_id and c.status == status for c in changes),
                timeout=WAIT_S,
            )
        assert ok, [(c.order_id, c.status) for c in changes]

    trade.set_on_order_changed(on_order_changed)
    trade.subscribe([TopicType.Private])
    [quote] = QuoteContext(official_config).quote(["9988.HK"])
    price = (quote.last_done * Decimal("0.9")).quantize(Decimal(1))  # on every HK tick grid
    placed = trade.submit_order(
        "9988.HK", OrderType.LO, OrderSide.Buy, Decimal(100), TimeInForceType.Day, price
    )
    wait_for(placed.order_id, OrderStatus.New)
    trade.cancel_order(placed.order_id)
    wait_for(placed.order_id, OrderStatus.Canceled)

    mine = [c for c in changes if c.order_id == placed.order_id]
    statuses = [c.status for c in mine]
    assert statuses.index(OrderStatus.New) < statuses.index(OrderStatus.Canceled)
    new = mine[statuses.index(OrderStatus.New)]
    assert new.symbol == "9988.HK" and new.side == OrderSide.Buy
    assert new.submitted_quantity == Decimal(100) and new.submitted_price == price
    assert new.executed_quantity == 0 and new.account_no
