"""Order response models (rest.md §8.1) and the ``order_changed_lb`` trade push (protocol.md §6.4).

Frozen pydantic with ``Decimal`` money and UTC datetimes; attribute names are the official
Python SDK's. Wire parsing rules live in ``wire_fields``.
"""

from __future__ import annotations

import json
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any

from pydantic import BeforeValidator, Field

from lb_mcp.sdk.enums import OrderSide, OrderStatus, _WireStr
from lb_mcp.sdk.trade.fields import (
    Dec,
    DecOrZero,
    ExecPrice,
    Kind,
    OptDate,
    OptDec,
    OptLevel,
    OptRth,
    OptStr,
    OptTimestamp,
    OptTrigger,
    Side,
    Status,
    Tag,
    Tif,
    Timestamp,
    WireModel,
    WireStr,
    lenient_timestamp_or_none,
    str_enum,
)


class CommissionFreeStatus(_WireStr):
    Unknown = "Unknown"
    None_ = "None"
    Calculated = "Calculated"
    Pending = "Pending"
    Ready = "Ready"


class DeductionStatus(_WireStr):
    Unknown = "Unknown"
    None_ = "NONE"
    NoData = "NO_DATA"
    Pending = "PENDING"
    Done = "DONE"


class ChargeCategoryCode(_WireStr):
    Unknown = "UNKNOWN"
    Broker = "BROKER_FEES"
    Third = "THIRD_FEES"


# --- orders ---------------------------------------------------------------------------------


class SubmitOrderResponse(WireModel):
    order_id: WireStr


class AttachedOrderDetail(WireModel):
    """Take-profit / stop-loss child of an order. Server usage is UNCONFIRMED: all optional."""

    order_id: WireStr
    status: Status = OrderStatus.Unknown
    quantity: DecOrZero = Decimal(0)
    executed_qty: DecOrZero = Decimal(0)
    trigger_price: OptDec = None
    submit_price: OptDec = None
    executed_price: OptDec = None
    updated_at: OptTimestamp = None
    submitted_at: OptTimestamp = None


class Order(WireModel):
    order_id: WireStr
    status: Status
    stock_name: WireStr
    quantity: Dec
    executed_quantity: Dec
    price: OptDec
    executed_price: ExecPrice
    submitted_at: Timestamp
    side: Side
    symbol: WireStr
    order_type: Kind
    last_done: OptDec
    trigger_price: OptDec
    msg: WireStr
    tag: Tag
    time_in_force: Tif
    expire_date: OptDate
    updated_at: OptTimestamp
    trigger_at: OptTimestamp
    trailing_amount: OptDec
    trailing_percent: OptDec
    limit_offset: OptDec
    trigger_status: OptTrigger
    currency: WireStr
    outside_rth: OptRth
    limit_depth_level: OptLevel
    trigger_count: OptLevel
    monitor_price: OptDec
    remark: WireStr
    delayed_until: Annotated[datetime | None, BeforeValidator(lenient_timestamp_or_none)] = None
    attached_orders: list[AttachedOrderDetail] = Field(default_factory=list)
    multi_leg: dict[str, Any] | None = None


class OrderHistoryDetail(WireModel):
    price: DecOrZero
    quantity: DecOrZero
    status: Status
    msg: WireStr
    time: Timestamp


class OrderChargeFee(WireModel):
    code: WireStr
    name: WireStr
    amount: DecOrZero
    currency: WireStr


class OrderChargeItem(WireModel):
    code: Annotated[ChargeCategoryCode, str_enum(ChargeCategoryCode)]
    name: WireStr
    fees: list[OrderChargeFee]


class OrderChargeDetail(WireModel):
    total_amount: Dec
    currency: WireStr
    items: list[OrderChargeItem]


class OrderDetail(Order):
    """An :class:`Order` plus fees, deductions and the status history (newest first)."""

    free_status: Annotated[CommissionFreeStatus, str_enum(CommissionFreeStatus)]
    free_amount: OptDec
    free_currency: OptStr
    deductions_status: Annotated[DeductionStatus, str_enum(DeductionStatus)]
    deductions_amount: OptDec
    deductions_currency: OptStr
    platform_deducted_status: Annotated[DeductionStatus, str_enum(DeductionStatus)]
    platform_deducted_amount: OptDec
    platform_deducted_currency: OptStr
    history: list[OrderHistoryDetail]
    charge_detail: OrderChargeDetail | None = None


class Execution(WireModel):
    order_id: WireStr
    trade_id: WireStr
    symbol: WireStr
    trade_done_at: Timestamp
    quantity: Dec
    price: Dec
    side: Side = OrderSide.Unknown


# --- list envelopes (internal: the SDK methods return the bare lists) -----------------------


class OrderList(WireModel):
    orders: list[Order]
    has_more: bool = False


class ExecutionList(WireModel):
    trades: list[Execution]
    has_more: bool = False


# --- trade push (protocol.md §6.4) ----------------------------------------------------------

ORDER_CHANGED_EVENT = "order_changed_lb"


class PushOrderChanged(WireModel):
    """``order_changed_lb`` push. Every key except ``multi_leg`` must be present."""

    side: Side
    stock_name: WireStr
    submitted_quantity: Dec
    symbol: WireStr
    order_type: Kind
    submitted_price: Dec
    executed_quantity: Dec
    executed_price: ExecPrice
    order_id: WireStr
    currency: WireStr
    status: Status
    submitted_at: Timestamp
    updated_at: Timestamp
    trigger_price: OptDec
    msg: WireStr
    tag: Tag
    trigger_status: OptTrigger
    trigger_at: OptTimestamp
    trailing_amount: OptDec
    trailing_percent: OptDec
    limit_offset: OptDec
    account_no: WireStr
    last_share: OptDec
    last_price: OptDec
    remark: WireStr
    multi_leg: dict[str, Any] | None = None


def parse_order_changed(payload: bytes | str) -> PushOrderChanged | None:
    """Decode a trade ``Notification.data`` document; ``None`` for any other event.

    Raises ``pydantic.ValidationError`` (or ``ValueError`` for bad JSON) when an
    ``order_changed_lb`` push is malformed; the caller drops it, as the official SDK does.
    """
    document = json.loads(payload, parse_float=Decimal)
    if not isinstance(document, dict) or document.get("event") != ORDER_CHANGED_EVENT:
        return None
    return PushOrderChanged.model_validate(document.get("data"))


__all__ = [
    "ORDER_CHANGED_EVENT",
    "AttachedOrderDetail",
    "ChargeCategoryCode",
    "CommissionFreeStatus",
    "DeductionStatus",
    "Execution",
    "ExecutionList",
    "Order",
    "OrderChargeDetail",
    "OrderChargeFee",
    "OrderChargeItem",
    "OrderDetail",
    "OrderHistoryDetail",
    "OrderList",
    "PushOrderChanged",
    "SubmitOrderResponse",
    "parse_order_changed",
]
