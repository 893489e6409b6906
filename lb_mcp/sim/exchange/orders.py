"""Order and execution records, and their exact wire forms (rest.md §5.11, protocol.md §6.4).

Records are frozen: every state change produces a new :class:`OrderRecord`, so a listener that
keeps one (e.g. to push it later) always sees the state *at that change*.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from lb_mcp.sdk.enums import (
    Market,
    OrderSide,
    OrderStatus,
    OrderTag,
    OrderType,
    OutsideRTH,
    TimeInForceType,
    TriggerStatus,
)
from lb_mcp.sdk.wire.scalars import text
from lb_mcp.sim.exchange.fees import fee_items

ZERO = Decimal(0)
# NotReported: accepted while the market is closed (real hours), waiting for the open;
# VarietiesNotReported: a conditional order waiting for its trigger (``triggers``).
OPEN_STATUSES = frozenset(
    {
        OrderStatus.New,
        OrderStatus.PartialFilled,
        OrderStatus.NotReported,
        OrderStatus.VarietiesNotReported,
    }
)


class SimError(Exception):
    """A request the simulator refuses: business ``code``, message and HTTP status."""

    def __init__(self, code: int, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status


def bad_request(message: str) -> SimError:
    return SimError(602001, message)


def not_found() -> SimError:
    return SimError(602023, "order not found")


def dec(value: Decimal | None) -> str:
    """Decimal wire text without exponent; ``None`` → ``""`` (not applicable)."""
    return "" if value is None else text(value)


@dataclass(frozen=True)
class HistoryLine:
    price: Decimal
    quantity: Decimal
    status: OrderStatus
    msg: str
    time: int

    def to_wire(self) -> dict[str, str]:
        return {
            "price": dec(self.price),
            "quantity": dec(self.quantity),
            "status": self.status.value,
            "msg": self.msg,
            "time": str(self.time),
        }


@dataclass(frozen=True)
class Execution:
    order_id: str
    trade_id: str
    symbol: str
    trade_done_at: int
    quantity: Decimal
    price: Decimal
    side: OrderSide

    def to_wire(self) -> dict[str, str]:
        return {
            "order_id": self.order_id,
            "trade_id": self.trade_id,
            "symbol": self.symbol,
            "trade_done_at": str(self.trade_done_at),
            "quantity": dec(self.quantity),
            "price": dec(self.price),
            "side": self.side.value,
        }


@dataclass(frozen=True)
class OrderRecord:
    order_id: str
    symbol: str
    stock_name: str
    market: Market
    side: OrderSide
    order_type: OrderType
    quantity: Decimal
    price: Decimal | None
    status: OrderStatus
    submitted_at: int
    updated_at: int
    time_in_force: TimeInForceType
    expire_date: date | None
    trade_date: date  # market-local date of submission
    outside_rth: OutsideRTH | None  # None for non-US orders
    currency: str
    remark: str = ""
    msg: str = ""
    executed_quantity: Decimal = ZERO
    executed_amount: Decimal = ZERO
    last_done: Decimal | None = None
    last_share: Decimal | None = None
    fees_charged: Decimal = ZERO
    history: tuple[HistoryLine, ...] = field(default=())  # oldest first
    client_request_id: str | None = None
    # Conditional orders (``triggers``): their terms, and how far they are.
    trigger_price: Decimal | None = None
    trailing_amount: Decimal | None = None
    trailing_percent: Decimal | None = None
    limit_offset: Decimal | None = None
    trigger_status: TriggerStatus = TriggerStatus.NotUsed
    trigger_at: int = 0
    trigger_falls: bool | None = None  # LIT/MIT: fires on a fall to the trigger (else a rise)
    trail_ref: Decimal | None = None  # trailing: the high (sell) / low (buy) since placed

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES

    @property
    def remaining(self) -> Decimal:
        return self.quantity - self.executed_quantity

    @property
    def executed_price(self) -> Decimal:
        if self.executed_quantity == 0:
            return ZERO
        return (self.executed_amount / self.executed_quantity).quantize(Decimal("0.001"))

    @property
    def tag(self) -> OrderTag:
        return OrderTag.Normal if self.time_in_force is TimeInForceType.Day else OrderTag.LongTerm

    def _expire_text(self) -> str:
        if self.time_in_force is TimeInForceType.GoodTilDate and self.expire_date is not None:
            return self.expire_date.isoformat()
        if self.time_in_force is TimeInForceType.Day:
            return self.trade_date.isoformat()
        return ""

    def to_wire(self) -> dict[str, object]:
        """The Order object of today/history orders, every key present, SDK-exact types."""
        return {
            "order_id": self.order_id,
            "status": self.status.value,
            "stock_name": self.stock_name,
            "quantity": dec(self.quantity),
            "executed_quantity": dec(self.executed_quantity),
            "price": dec(self.price),
            "executed_price": dec(self.executed_price),
            "submitted_at": str(self.submitted_at),
            "side": self.side.value,
            "symbol": self.symbol,
            "order_type": self.order_type.value,
            "last_done": dec(self.last_done),
            "trigger_price": dec(self.trigger_price),
            "msg": self.msg,
            "tag": self.tag.value,
            "time_in_force": self.time_in_force.value,
            "expire_date": self._expire_text(),
            "updated_at": str(self.updated_at),
            "trigger_at": str(self.trigger_at),
            "trailing_amount": dec(self.trailing_amount),
            "trailing_percent": dec(self.trailing_percent),
            "limit_offset": dec(self.limit_offset),
            "trigger_status": self.trigger_status.value,
            "currency": self.currency,
            "outside_rth": (self.outside_rth or OutsideRTH.Unknown).value,
            "limit_depth_level": 0,
            "trigger_count": 0,
            "monitor_price": "",
            "remark": self.remark,
        }

    def detail_wire(self) -> dict[str, object]:
        """Order detail: the Order object plus fees, deductions and history (newest first)."""
        fees = fee_items(self.market, self.side, self.executed_amount, self.executed_quantity)
        groups: list[dict[str, object]] = []
        for code, name, broker in (
            ("BROKER_FEES", "Broker Fees", True),
            ("THIRD_FEES", "Third-party Fees", False),
        ):
            part = [f for f in fees if f.broker is broker]
            groups.append(
                {
                    "code": code,
                    "name": name,
                    "fees": [
                        {
                            "code": f.code,
                            "name": f.name,
                            "amount": dec(f.amount),
                            "currency": self.currency,
                        }
                        for f in part
                    ],
                }
            )
        total = sum((f.amount for f in fees), ZERO)
        return {
            **self.to_wire(),
            "free_status": "None",
            "free_amount": "",
            "free_currency": "",
            "deductions_status": "NONE",
            "deductions_amount": "",
            "deductions_currency": "",
            "platform_deducted_status": "NONE",
            "platform_deducted_amount": "",
            "platform_deducted_currency": "",
            "history": [line.to_wire() for line in reversed(self.history)],
            "charge_detail": {
                "total_amount": dec(total),
                "currency": self.currency,
                "items": groups,
            },
        }

    def push_data(self, account_no: str) -> dict[str, str]:
        """``data`` of an ``order_changed_lb`` push: every key present, every value a string."""
        return {
            "side": self.side.value,
            "stock_name": self.stock_name,
            "submitted_quantity": dec(self.quantity),
            "symbol": self.symbol,
            "order_type": self.order_type.value,
            "submitted_price": dec(self.price) or "0",
            "executed_quantity": dec(self.executed_quantity),
            "executed_price": dec(self.executed_price),
            "order_id": self.order_id,
            "currency": self.currency,
            "status": self.status.value,
            "submitted_at": str(self.submitted_at),
            "updated_at": str(self.updated_at),
            "trigger_price": dec(self.trigger_price),
            "msg": self.msg,
            "tag": self.tag.value,
            "trigger_status": self.trigger_status.value,
            "trigger_at": str(self.trigger_at),
            "trailing_amount": dec(self.trailing_amount),
            "trailing_percent": dec(self.trailing_percent),
            "limit_offset": dec(self.limit_offset),
            "account_no": account_no,
            "last_share": dec(self.last_share),
            "last_price": dec(self.last_done),
            "remark": self.remark,
        }


__all__ = [
    "OPEN_STATUSES",
    "Execution",
    "HistoryLine",
    "OrderRecord",
    "SimError",
    "bad_request",
    "dec",
    "not_found",
]
