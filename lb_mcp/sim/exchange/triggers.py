"""Conditional orders in the simulator: LIT / MIT (trigger price) and TSLPAMT / TSLPPCT (trailing).

Rules (rest.md §5.1.1; what the docs leave open is chosen and written down here):

* A conditional order waits as ``VarietiesNotReported`` with ``trigger_status`` ``ACTIVE``; it is
  open (cancellable, replaceable, expires like any order) but not in the book.
* ``LIT`` / ``MIT``: the side of the trigger is fixed when the order is placed (or replaced): a
  trigger at or below the last price fires when a print is at or below it ("falls to"), one
  above it when a print is at or above it ("rises to"). Then the order is released (``WaitToNew``
  -> ``New``, ``trigger_status`` ``RELEASED``, ``trigger_at``) as a limit at its price (LIT) or a
  market order (MIT, whose unfilled rest is withdrawn like an ``MO``'s).
* ``TSLPAMT`` / ``TSLPPCT``: a sell trails the highest print since it was placed, a buy the
  lowest; the stop is that extreme minus (sell) / plus (buy) the trailing amount or percent. A
  print through the stop releases it as a limit ``limit_offset`` beyond the stop (sell: below,
  buy: above), rounded onto the price grid away from the market's side.

Every change goes through the broker's ``_transition``, so each one is pushed.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

from lb_mcp.sdk.enums import OrderSide, OrderType, TriggerStatus
from lb_mcp.sim.exchange.orders import OrderRecord, bad_request
from lb_mcp.sim.market.universe import is_on_tick, tick_size

TRIGGER_TYPES = frozenset({OrderType.LIT, OrderType.MIT})
TRAILING_TYPES = frozenset({OrderType.TSLPAMT, OrderType.TSLPPCT})
CONDITIONAL_TYPES = TRIGGER_TYPES | TRAILING_TYPES
_HUNDRED = Decimal(100)


def check_terms(
    symbol: str,
    order_type: OrderType,
    trigger_price: Decimal | None,
    trailing_amount: Decimal | None,
    trailing_percent: Decimal | None,
    limit_offset: Decimal | None,
) -> None:
    """602001 unless the order type has exactly the conditional fields it needs."""
    if order_type in TRIGGER_TYPES:
        if trigger_price is None:
            raise bad_request(f"trigger_price is required for {order_type.value} orders")
        if not is_on_tick(symbol, trigger_price):
            raise bad_request(f"trigger_price {trigger_price} is not on the tick grid of {symbol}")
    if order_type is OrderType.TSLPAMT and (trailing_amount is None or trailing_amount <= 0):
        raise bad_request("trailing_amount is required for TSLPAMT orders")
    if order_type is OrderType.TSLPPCT and (
        trailing_percent is None or not 0 < trailing_percent < _HUNDRED
    ):
        raise bad_request("trailing_percent (0-100) is required for TSLPPCT orders")
    if order_type in TRAILING_TYPES and (limit_offset is None or limit_offset < 0):
        raise bad_request(f"limit_offset is required for {order_type.value} orders")


def arm(order: OrderRecord, last: Decimal) -> OrderRecord:
    """The order as it starts waiting: side of the trigger fixed, trail started at ``last``."""
    falls = None if order.trigger_price is None else order.trigger_price <= last
    ref = last if order.order_type in TRAILING_TYPES else None
    return replace(order, trigger_falls=falls, trail_ref=ref, trigger_status=TriggerStatus.Active)


def stop_of(order: OrderRecord) -> Decimal | None:
    """The price whose touch releases the order (the trailing stop follows its reference)."""
    if order.order_type in TRIGGER_TYPES:
        return order.trigger_price
    ref = order.trail_ref
    if ref is None:
        return None
    trail = (
        order.trailing_amount
        if order.trailing_amount is not None
        else ref * (order.trailing_percent or Decimal(0)) / _HUNDRED
    )
    return ref - trail if order.side is OrderSide.Sell else ref + trail


def follow(order: OrderRecord, prints: Iterable[Decimal]) -> tuple[OrderRecord, bool]:
    """Walk the prints: move the trail, and say whether one of them released the order."""
    for price in prints:
        if order.order_type in TRAILING_TYPES and order.trail_ref is not None:
            better = max if order.side is OrderSide.Sell else min
            order = replace(order, trail_ref=better(order.trail_ref, price))
        stop = stop_of(order)
        if stop is None:
            continue
        if order.order_type in TRIGGER_TYPES:
            touched = price <= stop if order.trigger_falls else price >= stop
        else:
            touched = price <= stop if order.side is OrderSide.Sell else price >= stop
        if touched:
            return order, True
    return order, False


def released_price(order: OrderRecord) -> Decimal | None:
    """The limit the order goes out at once triggered (None: at the market)."""
    if order.order_type is OrderType.MIT:
        return None
    if order.order_type is OrderType.LIT:
        return order.price
    stop = stop_of(order)
    assert stop is not None
    offset = order.limit_offset or Decimal(0)
    sell = order.side is OrderSide.Sell
    raw = stop - offset if sell else stop + offset
    tick = tick_size(order.symbol, raw)
    steps = raw / tick
    # Away from the market: a sell rounds down, a buy up, so the limit is never tighter.
    rounded = steps.to_integral_value(rounding=ROUND_FLOOR if sell else ROUND_CEILING)
    return max(rounded * tick, tick)


__all__ = [
    "CONDITIONAL_TYPES",
    "TRAILING_TYPES",
    "TRIGGER_TYPES",
    "arm",
    "check_terms",
    "follow",
    "released_price",
    "stop_of",
]
