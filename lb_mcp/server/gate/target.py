"""The canonical intent of an order request, and of a change to an order the broker holds.

A submit turns the tool's ``OrderRequest`` into an ``OrderIntent`` directly. A replace or cancel
first reads the target order from the broker: only an open order can change, and the intent
carries what is left of it (unfilled quantity, same type, time in force and expiry), with the
new quantity/price for a replace. A cancel's confirmation text is rendered here from that
target, because the gate's own summary describes new orders.
"""

from __future__ import annotations

from dataclasses import replace

from lb_mcp.sdk.enums import Mode, OrderStatus, TimeInForceType
from lb_mcp.sdk.trade.context import TradeContext
from lb_mcp.sdk.trade.models import Order
from lb_mcp.server.gate.intent import IntentError, OrderIntent, canonical_decimal
from lb_mcp.server.gate.values import Action, OrderRequest, intent_from

OPEN_STATUSES = frozenset(
    {
        OrderStatus.NotReported,
        OrderStatus.ReplacedNotReported,
        OrderStatus.ProtectedNotReported,
        OrderStatus.VarietiesNotReported,
        OrderStatus.WaitToNew,
        OrderStatus.New,
        OrderStatus.WaitToReplace,
        OrderStatus.PendingReplace,
        OrderStatus.Replaced,
        OrderStatus.PartialFilled,
    }
)


async def build_intent(
    trade: TradeContext,
    mode: Mode,
    action: Action,
    request: OrderRequest | None,
    order_id: str | None,
) -> tuple[OrderIntent, Order | None]:
    """The intent and, for a replace/cancel, the broker's order it changes.

    Raises ``IntentError`` (bad input, order not open) or the SDK's ``OpenApiException``.
    """
    if action is Action.SUBMIT:
        assert request is not None
        return intent_from(request, mode), None
    if not order_id:
        raise IntentError("BAD_ARGUMENT", "order_id is required")
    target = await trade.order_detail(order_id)
    if target.status not in OPEN_STATUSES:
        raise IntentError(
            "ORDER_NOT_OPEN", f"order {order_id} is {target.status.name}; it cannot change"
        )
    base = OrderRequest(
        symbol=target.symbol,
        side=target.side,
        quantity=target.quantity - target.executed_quantity,
        price=target.price,
        order_type=target.order_type,
        time_in_force=target.time_in_force,
        outside_rth=target.outside_rth,
        # Brokers report an expiry for Day orders too; only GTD carries one in a request.
        expire_date=(
            target.expire_date if target.time_in_force is TimeInForceType.GoodTilDate else None
        ),
    )
    if action is Action.REPLACE:
        assert request is not None
        base = replace(base, quantity=request.quantity, price=request.price)
    return intent_from(base, mode, replace_of=target.order_id), target


def cancel_summary(intent: OrderIntent, target: Order | None, mode: Mode) -> str:
    """What the human reads before approving a cancel."""
    header = "LIVE ACCOUNT - REAL MONEY" if mode is Mode.LIVE else "SANDBOX (simulated account)"
    price = "market" if intent.price is None else canonical_decimal(intent.price)
    ccy = "" if target is None else f" {target.currency}"
    return "\n".join(
        [
            header,
            f"CANCEL order {intent.replace_of}",
            f"{intent.side.value.upper()} {canonical_decimal(intent.quantity)} {intent.symbol} "
            f"(unfilled) at {price}{ccy}",
        ]
    )


__all__ = ["OPEN_STATUSES", "build_intent", "cancel_summary"]
