"""Trade and asset response models: frozen pydantic, ``Decimal`` money, UTC datetimes.

Attribute names are the official Python SDK's (rest.md §8.1), e.g. ``StockPositionsResponse.
channels`` for wire ``list``. Parsing tolerates exactly what SDK 5.3.0 tolerates (rest.md §1.5,
§8): ``""`` means "none" (or 0) where the SDK says so, plain decimals may be JSON numbers,
unknown enum strings become ``Unknown``, extra fields are ignored; timestamps sent as JSON
numbers, a string ``limit_depth_level`` or an ``executed_price`` of ``""`` are refused, as the
SDK refuses them. Quote models live elsewhere.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any, TypeVar

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from .enums import (
    BalanceType,
    CashFlowDirection,
    Market,
    OrderSide,
    OrderStatus,
    OrderTag,
    OrderType,
    OutsideRTH,
    TimeInForceType,
    TriggerStatus,
    _WireStr,
)

# --- wire scalars ---------------------------------------------------------------------------


def _to_decimal(value: Any) -> Decimal:
    if isinstance(value, bool):
        raise ValueError("expected a decimal string")
    try:
        if isinstance(value, Decimal):
            result = value
        elif isinstance(value, int):
            result = Decimal(value)
        elif isinstance(value, float):  # only from callers that parsed JSON without Decimal
            result = Decimal(repr(value))
        elif isinstance(value, str) and value.strip():
            result = Decimal(value.strip())
        else:
            raise ValueError("expected a decimal string")
    except InvalidOperation:
        raise ValueError("invalid decimal text") from None
    if not result.is_finite():
        raise ValueError("decimal must be finite")
    return result


def _decimal_or_zero(value: Any) -> Decimal:
    return Decimal(0) if value == "" else _to_decimal(value)


def _decimal_or_none(value: Any) -> Decimal | None:
    if value is None or value == "":
        return None
    if isinstance(value, int | float) and not isinstance(value, bool):
        raise ValueError("expected a decimal string or empty string")
    return _to_decimal(value)


def _executed_price(value: Any) -> Decimal | None:
    # "0" means "not executed yet"; "" is a wire error the SDK refuses.
    if value is None:
        return None
    price = _to_decimal(value)
    return None if price == 0 else price


def _timestamp(value: Any) -> datetime:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if not isinstance(value, str):
        raise ValueError("expected unix seconds as a string")
    try:
        seconds = Decimal(value.strip())
    except InvalidOperation:
        raise ValueError("invalid unix seconds") from None
    return datetime.fromtimestamp(int(seconds), tz=UTC)


def _timestamp_or_none(value: Any) -> datetime | None:
    if value is None or value in ("", "0"):
        return None
    return _timestamp(value)


def _lenient_timestamp_or_none(value: Any) -> datetime | None:
    # delayed_until: the SDK accepts a string or a number.
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    return _timestamp_or_none(value)


def _date_or_none(value: Any) -> date | None:
    if value is None or value == "":
        return None
    if isinstance(value, date):
        return value
    if not isinstance(value, str):
        raise ValueError("expected YYYY-MM-DD")
    return date.fromisoformat(value)


def _wire_int(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError("expected a JSON integer")
    return value


def _int_zero_is_none(value: Any) -> int | None:
    if value is None:
        return None
    number = _wire_int(value)
    return None if number == 0 else number


def _risk_level(value: Any) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        raise ValueError("risk_level must be a string")
    if value == "":
        return 0
    if not isinstance(value, str) or not value.strip().isdigit():
        raise ValueError("risk_level must be a digit string")
    return int(value)


def _strict_str(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError("expected a string")
    return value


def _str_or_none(value: Any) -> str | None:
    if value is None or value == "":
        return None
    return _strict_str(value)


E = TypeVar("E", bound=_WireStr)


def _str_enum(cls: type[E]) -> BeforeValidator:
    def parse(value: Any) -> E:
        if isinstance(value, cls):
            return value
        if not isinstance(value, str):
            raise ValueError("expected an enum string")
        return cls.parse(value)

    return BeforeValidator(parse)


def _trigger_status(value: Any) -> TriggerStatus | None:
    if value is None or value == TriggerStatus.NotUsed.value:
        return None
    if isinstance(value, TriggerStatus):
        return value
    return TriggerStatus.parse(_strict_str(value))


def _outside_rth(value: Any) -> OutsideRTH | None:
    # "UnknownOutsideRth" is the server's "not a US order": the SDK reports None.
    if value is None or value == OutsideRTH.Unknown.value:
        return None
    if isinstance(value, OutsideRTH):
        return value
    return OutsideRTH.parse(_strict_str(value))


def _balance_type(value: Any) -> BalanceType:
    number = _wire_int(value)
    return BalanceType(number) if number in BalanceType._value2member_map_ else BalanceType.Unknown


def _direction(value: Any) -> CashFlowDirection:
    number = _wire_int(value)
    known = CashFlowDirection._value2member_map_
    return CashFlowDirection(number) if number in known else CashFlowDirection.Unknown


Dec = Annotated[Decimal, BeforeValidator(_to_decimal)]
DecOrZero = Annotated[Decimal, BeforeValidator(_decimal_or_zero)]
OptDec = Annotated[Decimal | None, BeforeValidator(_decimal_or_none)]
ExecPrice = Annotated[Decimal | None, BeforeValidator(_executed_price)]
Timestamp = Annotated[datetime, BeforeValidator(_timestamp)]
OptTimestamp = Annotated[datetime | None, BeforeValidator(_timestamp_or_none)]
OptDate = Annotated[date | None, BeforeValidator(_date_or_none)]
WireStr = Annotated[str, BeforeValidator(_strict_str)]
OptStr = Annotated[str | None, BeforeValidator(_str_or_none)]
OptLevel = Annotated[int | None, BeforeValidator(_int_zero_is_none)]
Side = Annotated[OrderSide, _str_enum(OrderSide)]
Status = Annotated[OrderStatus, _str_enum(OrderStatus)]
Kind = Annotated[OrderType, _str_enum(OrderType)]
Tag = Annotated[OrderTag, _str_enum(OrderTag)]
Tif = Annotated[TimeInForceType, _str_enum(TimeInForceType)]
OptTrigger = Annotated[TriggerStatus | None, BeforeValidator(_trigger_status)]
OptRth = Annotated[OutsideRTH | None, BeforeValidator(_outside_rth)]


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


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore", populate_by_name=True)


# --- asset ----------------------------------------------------------------------------------


class CashInfo(_Model):
    withdraw_cash: Dec
    available_cash: Dec
    frozen_cash: Dec
    settling_cash: Dec
    currency: WireStr


class FrozenTransactionFee(_Model):
    currency: WireStr
    frozen_transaction_fee: Dec


class AccountBalance(_Model):
    total_cash: Dec
    max_finance_amount: Dec
    remaining_finance_amount: Dec
    risk_level: Annotated[int, BeforeValidator(_risk_level)]
    margin_call: Dec
    currency: WireStr
    cash_infos: list[CashInfo] = Field(default_factory=list)
    net_assets: DecOrZero
    init_margin: DecOrZero
    maintenance_margin: DecOrZero
    buy_power: DecOrZero
    frozen_transaction_fees: list[FrozenTransactionFee]


class CashFlow(_Model):
    transaction_flow_name: WireStr
    direction: Annotated[CashFlowDirection, BeforeValidator(_direction)]
    business_type: Annotated[BalanceType, BeforeValidator(_balance_type)]
    balance: Dec
    currency: WireStr
    business_time: Timestamp
    symbol: OptStr
    description: WireStr


class FundPosition(_Model):
    counter_id: WireStr = Field(validation_alias="symbol")
    current_net_asset_value: DecOrZero
    net_asset_value_day: Timestamp
    symbol_name: WireStr
    currency: WireStr
    cost_net_asset_value: DecOrZero
    holding_units: Dec


class FundPositionChannel(_Model):
    account_channel: WireStr
    positions: list[FundPosition] = Field(default_factory=list, validation_alias="fund_info")


class FundPositionsResponse(_Model):
    channels: list[FundPositionChannel] = Field(validation_alias="list")


class StockPosition(_Model):
    symbol: WireStr
    symbol_name: WireStr
    quantity: Dec
    available_quantity: Dec
    currency: WireStr
    cost_price: DecOrZero
    market: Annotated[Market, _str_enum(Market)]
    init_quantity: OptDec


class StockPositionChannel(_Model):
    account_channel: WireStr
    positions: list[StockPosition] = Field(default_factory=list, validation_alias="stock_info")


class StockPositionsResponse(_Model):
    channels: list[StockPositionChannel] = Field(validation_alias="list")


class MarginRatio(_Model):
    im_factor: Dec
    mm_factor: Dec
    fm_factor: Dec


class EstimateMaxPurchaseQuantityResponse(_Model):
    cash_max_qty: DecOrZero
    margin_max_qty: DecOrZero


# --- orders ---------------------------------------------------------------------------------


class SubmitOrderResponse(_Model):
    order_id: WireStr


class AttachedOrderDetail(_Model):
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


class Order(_Model):
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
    delayed_until: Annotated[datetime | None, BeforeValidator(_lenient_timestamp_or_none)] = None
    attached_orders: list[AttachedOrderDetail] = Field(default_factory=list)
    multi_leg: dict[str, Any] | None = None


class OrderHistoryDetail(_Model):
    price: DecOrZero
    quantity: DecOrZero
    status: Status
    msg: WireStr
    time: Timestamp


class OrderChargeFee(_Model):
    code: WireStr
    name: WireStr
    amount: DecOrZero
    currency: WireStr


class OrderChargeItem(_Model):
    code: Annotated[ChargeCategoryCode, _str_enum(ChargeCategoryCode)]
    name: WireStr
    fees: list[OrderChargeFee]


class OrderChargeDetail(_Model):
    total_amount: Dec
    currency: WireStr
    items: list[OrderChargeItem]


class OrderDetail(Order):
    """An :class:`Order` plus fees, deductions and the status history (newest first)."""

    free_status: Annotated[CommissionFreeStatus, _str_enum(CommissionFreeStatus)]
    free_amount: OptDec
    free_currency: OptStr
    deductions_status: Annotated[DeductionStatus, _str_enum(DeductionStatus)]
    deductions_amount: OptDec
    deductions_currency: OptStr
    platform_deducted_status: Annotated[DeductionStatus, _str_enum(DeductionStatus)]
    platform_deducted_amount: OptDec
    platform_deducted_currency: OptStr
    history: list[OrderHistoryDetail]
    charge_detail: OrderChargeDetail | None = None


class Execution(_Model):
    order_id: WireStr
    trade_id: WireStr
    symbol: WireStr
    trade_done_at: Timestamp
    quantity: Dec
    price: Dec
    side: Side = OrderSide.Unknown


# --- list envelopes (internal: the SDK methods return the bare lists) -----------------------


class AccountBalanceList(_Model):
    items: list[AccountBalance] = Field(validation_alias="list")


class CashFlowList(_Model):
    items: list[CashFlow] = Field(validation_alias="list")


class OrderList(_Model):
    orders: list[Order]
    has_more: bool = False


class ExecutionList(_Model):
    trades: list[Execution]
    has_more: bool = False


# --- trade push (protocol.md §6.4) ----------------------------------------------------------

ORDER_CHANGED_EVENT = "order_changed_lb"


class PushOrderChanged(_Model):
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
    "AccountBalance",
    "AttachedOrderDetail",
    "CashFlow",
    "CashInfo",
    "ChargeCategoryCode",
    "CommissionFreeStatus",
    "DeductionStatus",
    "EstimateMaxPurchaseQuantityResponse",
    "Execution",
    "FrozenTransactionFee",
    "FundPosition",
    "FundPositionChannel",
    "FundPositionsResponse",
    "MarginRatio",
    "Order",
    "OrderChargeDetail",
    "OrderChargeFee",
    "OrderChargeItem",
    "OrderDetail",
    "OrderHistoryDetail",
    "PushOrderChanged",
    "StockPosition",
    "StockPositionChannel",
    "StockPositionsResponse",
    "SubmitOrderResponse",
    "parse_order_changed",
]
