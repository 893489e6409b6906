"""The canonical intent of an order request, and of a change to an order the broker holds.

A submit turns the tool's ``OrderRequest`` into an ``OrderIntent`` directly. A replace or cancel
first reads the target order from the broker: only an open order can change, and the intent
carries what is left of it (unfilled quantity, same type, time in force and expiry), with the
new quantity/price for a replace. A cancel's confirmation text is rendered here from that
target, because the gate's own summary describes new orders; so is the plain-words line of
every order (``fill_terms``): when and at what price it can fill, the trigger or trail, how
long it lives and in which sessions.
"""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

from lb_mcp.sdk.enums import (
    Market,
    Mode,
    OrderSide,
    OrderStatus,
    OrderType,
    OutsideRTH,
    TimeInForceType,
)
from lb_mcp.sdk.trade.context import TradeContext
from lb_mcp.sdk.trade.models import Order
from lb_mcp.server.gate.confirm import render_summary
from lb_mcp.server.gate.guards import TRAILING_TYPES, TRIGGER_TYPES, Decision
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
        # A triggered trailing order reports the limit it was released at; the trailing
        # fields are what a replace keeps.
        trigger_price=target.trigger_price if target.order_type in TRIGGER_TYPES else None,
        trailing_amount=target.trailing_amount if target.order_type in TRAILING_TYPES else None,
        trailing_percent=(target.trailing_percent if target.order_type in TRAILING_TYPES else None),
        limit_offset=target.limit_offset if target.order_type in TRAILING_TYPES else None,
        remark=_note_of(target.remark),  # a replace keeps the order's own note
    )
    if base.order_type in TRAILING_TYPES or base.order_type is OrderType.MIT:
        base = replace(base, price=None)
    if action is Action.REPLACE:
        assert request is not None
        # A field the request leaves out keeps the order's value: a quantity-only change
        # keeps the price (and the trigger or trailing terms).
        base = replace(
            base,
            quantity=request.quantity,
            **{
                name: getattr(request, name)
                for name in (
                    "price",
                    "trigger_price",
                    "trailing_amount",
                    "trailing_percent",
                    "limit_offset",
                )
                if getattr(request, name) is not None
            },
        )
    return intent_from(base, mode, replace_of=target.order_id), target


def _note_of(remark: str) -> str | None:
    """The note after our ``lbmcp:<id> `` prefix (or a foreign remark) if it is one we can
    send again, else None."""
    note = remark.split(" ", 1)[1] if remark.startswith("lbmcp:") and " " in remark else remark
    if not note or note.startswith("lbmcp:"):
        return None
    try:
        OrderIntent.check_remark(note)
    except IntentError:
        return None
    return note


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


__all__ = ["OPEN_STATUSES", "build_intent", "cancel_summary", "fill_terms", "order_summary"]


_PLAIN_TYPES = {
    OrderType.LO: "limit",
    OrderType.ELO: "enhanced limit",
    OrderType.ALO: "at-auction limit",
    OrderType.ODD: "odd-lot limit",
    OrderType.MO: "market",
    OrderType.AO: "at-auction",
    OrderType.LIT: "limit if touched",
    OrderType.MIT: "market if touched",
    OrderType.TSLPAMT: "trailing stop limit, by amount",
    OrderType.TSLPPCT: "trailing stop limit, by percent",
}
_SESSIONS = {
    OutsideRTH.RTHOnly: "in regular trading hours only",
    OutsideRTH.AnyTime: "also in the pre-market and after-hours sessions",
    OutsideRTH.Overnight: "also in the overnight session",
}


def fill_terms(intent: OrderIntent, decision: Decision, currency: str = "") -> str:
    """One sentence in plain words: what fills, when, at what price, for how long, where.

    E.g. "sells 100 700.HK if the price falls to 380, then as a limit order at 379 HKD".
    """
    i, f = intent, canonical_decimal
    ccy = f" {currency}" if currency else ""
    head = f"{'buys' if i.side is OrderSide.Buy else 'sells'} {f(i.quantity)} {i.symbol}"
    limit = "" if i.price is None else f"as a limit order at {f(i.price)}{ccy}"
    if i.order_type in TRIGGER_TYPES and i.trigger_price is not None:
        falls = decision.trigger_falls
        if falls is None and decision.last is not None:
            falls = i.trigger_price < decision.last
        move = "falls" if falls else "rises"
        then = limit if i.price is not None else "at the market price"
        when = f"if the price {move} to {f(i.trigger_price)}{ccy}, then {then}"
    elif i.order_type in TRAILING_TYPES:
        sell = i.side is OrderSide.Sell
        trail = (
            f"{f(i.trailing_amount)}{ccy}"
            if i.trailing_amount is not None
            else f"{f(i.trailing_percent or Decimal(0))}%"
        )
        extreme = "highest" if sell else "lowest"
        move = f"falls {trail} below" if sell else f"rises {trail} above"
        now = ""
        if decision.last is not None:
            amount = i.trailing_amount or decision.last * (i.trailing_percent or 0) / 100
            stop = decision.last - amount if sell else decision.last + amount
            now = f" (a trailing stop, now at {f(stop.quantize(Decimal('0.001')))}{ccy})"
        offset = f(i.limit_offset or Decimal(0))
        when = (
            f"when the price {move} its {extreme} since the order was placed{now}, then as a "
            f"limit order {offset} {'below' if sell else 'above'} that stop"
        )
    elif i.order_type in (OrderType.MO, OrderType.AO):
        when = "at the market price" if i.order_type is OrderType.MO else "at the auction price"
    else:
        when = f"at {f(i.price or Decimal(0))}{ccy} or better"
    tif = {
        TimeInForceType.Day: "valid today only",
        TimeInForceType.GoodTilCanceled: "valid until cancelled",
    }.get(i.time_in_force)
    if tif is None:
        day = "?" if i.expire_date is None else i.expire_date.isoformat()
        tif = f"valid until the end of {day} (market time)"
    rth = i.outside_rth or (OutsideRTH.RTHOnly if i.market is Market.US else None)
    where = "" if rth is None else f", {_SESSIONS.get(rth, rth.value)}"
    return f"{head} {when}; {tif}{where}"


def order_summary(
    intent: OrderIntent, decision: Decision, name: str, mode: Mode, base_currency: str
) -> str:
    """The gate's summary with the type in words and the ``fill_terms`` line under the title."""
    lines = render_summary(intent, decision, name, mode, base_currency=base_currency).split("\n")
    kind = f"Order type: {intent.order_type.value} ({_PLAIN_TYPES.get(intent.order_type, '')})"
    lines = [kind if line.startswith("Order type:") else line for line in lines]
    lines.insert(2, "Fills: " + fill_terms(intent, decision, decision.currency or ""))
    return "\n".join(lines)
