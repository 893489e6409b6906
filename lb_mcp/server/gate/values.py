"""Plain values of the order path: what a tool asks for and what it gets back.

``OrderRequest`` is the model's request after the tool layer parsed its strings (decimals are
``Decimal``, enums may still be wire strings); ``intent_from`` turns it into the canonical
``OrderIntent`` a confirmation binds to. ``OrderOutcome`` is the one result shape of every
order tool: a stable ``status`` and ``code``, the broker's ``order_id`` only once the broker
has answered (a result never says "placed" without one), and never a capability.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from lb_mcp.sdk.enums import Mode, OrderSide, OrderType, OutsideRTH, TimeInForceType
from lb_mcp.server.gate.confirm import Channel
from lb_mcp.server.gate.intent import OrderIntent, canonical_decimal


class Action(StrEnum):
    SUBMIT = "submit"
    REPLACE = "replace"
    CANCEL = "cancel"


class Status(StrEnum):
    REFUSED = "refused"  # a guard, the mode or the input said no; nothing was asked or sent
    CONFIRMATION_REQUIRED = "confirmation_required"  # waiting for the human's click
    DECLINED = "declined"
    CANCELLED = "cancelled"
    EXPIRED = "expired"
    PLACED = "placed"  # the broker accepted it and gave an order id
    FAILED = "failed"  # the broker refused it
    UNKNOWN = "unknown"  # the broker did not answer; it is looked up before any resend


@dataclass(frozen=True)
class OrderRequest:
    symbol: str
    side: OrderSide | str
    quantity: Decimal
    price: Decimal | None = None
    order_type: OrderType | str = OrderType.LO
    time_in_force: TimeInForceType | str = TimeInForceType.Day
    outside_rth: OutsideRTH | str | None = None
    expire_date: date | None = None
    trigger_price: Decimal | None = None
    trailing_amount: Decimal | None = None
    trailing_percent: Decimal | None = None
    limit_offset: Decimal | None = None
    remark: str | None = None

    def audit_view(self) -> dict[str, Any]:
        """The request as text, for audit lines about requests refused before an intent."""
        return {
            "symbol": str(self.symbol)[:40],
            "side": str(getattr(self.side, "value", self.side))[:16],
            "quantity": str(self.quantity),
            "price": None if self.price is None else str(self.price),
            "order_type": str(getattr(self.order_type, "value", self.order_type))[:16],
        }


def _wire(value: object) -> object:
    return getattr(value, "value", value)


def intent_from(request: OrderRequest, mode: Mode, *, replace_of: str | None = None) -> OrderIntent:
    """The canonical intent (raises ``IntentError`` with a stable code on bad input)."""
    rth = request.outside_rth
    if rth is OutsideRTH.Unknown:
        rth = None  # what the broker reports for non-US orders
    return OrderIntent(
        symbol=request.symbol,
        side=_wire(request.side),  # type: ignore[arg-type]
        order_type=_wire(request.order_type),  # type: ignore[arg-type]
        quantity=request.quantity,
        price=request.price,
        time_in_force=_wire(request.time_in_force),  # type: ignore[arg-type]
        outside_rth=None if rth is None else _wire(rth),  # type: ignore[arg-type]
        mode=mode,
        replace_of=replace_of,
        expire_date=request.expire_date,
        trigger_price=request.trigger_price,
        trailing_amount=request.trailing_amount,
        trailing_percent=request.trailing_percent,
        limit_offset=request.limit_offset,
        remark=request.remark,
    )


@dataclass(frozen=True)
class OrderOutcome:
    action: Action
    status: Status
    code: str
    message: str
    confirmation_id: str | None = None
    intent_id: str | None = None
    intent: OrderIntent | None = None
    order_id: str | None = None
    channel: Channel | None = None
    warnings: tuple[str, ...] = ()
    expires_at: datetime | None = None
    summary: str | None = None

    def as_dict(self) -> dict[str, Any]:
        i = self.intent
        return {
            "action": self.action.value,
            "status": self.status.value,
            "code": self.code,
            "message": self.message,
            "confirmation_id": self.confirmation_id,
            "order_id": self.order_id,
            "symbol": None if i is None else i.symbol,
            "side": None if i is None else i.side.value,
            "quantity": None if i is None else canonical_decimal(i.quantity),
            "price": None if i is None or i.price is None else canonical_decimal(i.price),
            "trigger_price": _opt(None if i is None else i.trigger_price),
            "trailing_amount": _opt(None if i is None else i.trailing_amount),
            "trailing_percent": _opt(None if i is None else i.trailing_percent),
            "limit_offset": _opt(None if i is None else i.limit_offset),
            "order_type": None if i is None else i.order_type.value,
            "replaces": None if i is None else i.replace_of,
            "channel": None if self.channel is None else self.channel.value,
            "warnings": list(self.warnings),
        }


def _opt(value: Decimal | None) -> str | None:
    return None if value is None else canonical_decimal(value)


@dataclass(frozen=True)
class Prepared:
    """``prepare``'s answer: a final ``outcome`` (refused), or an open confirmation."""

    action: Action
    outcome: OrderOutcome | None
    confirmation_id: str | None
    channel: Channel | None
    message: str  # the server-rendered text the human is shown

    @property
    def needs_elicitation(self) -> bool:
        return self.outcome is None and self.channel is Channel.ELICITATION


__all__ = ["Action", "OrderOutcome", "OrderRequest", "Prepared", "Status", "intent_from"]
