"""Wire scalars of the trade/asset REST and push documents, as pydantic annotated types.

Each alias (``Dec``, ``Timestamp``, ``Side``...) parses exactly what the official SDK 5.3.0
parses (rest.md §1.5, §8): ``""`` means "none" (or 0) where the SDK says so, plain decimals may
be JSON numbers, unknown enum strings become ``Unknown``; timestamps sent as JSON numbers, a
string ``limit_depth_level`` or an ``executed_price`` of ``""`` are refused, as the SDK refuses
them. ``WireModel`` is the frozen base of every trade/asset model.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any, TypeVar

from pydantic import BaseModel, BeforeValidator, ConfigDict

from lb_mcp.sdk.enums import (
    BalanceType,
    CashFlowDirection,
    OrderSide,
    OrderStatus,
    OrderTag,
    OrderType,
    OutsideRTH,
    TimeInForceType,
    TriggerStatus,
    _WireStr,
)


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


def lenient_timestamp_or_none(value: Any) -> datetime | None:
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


def risk_level(value: Any) -> int:
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


def str_enum(cls: type[E]) -> BeforeValidator:
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


def balance_type(value: Any) -> BalanceType:
    number = _wire_int(value)
    return BalanceType(number) if number in BalanceType._value2member_map_ else BalanceType.Unknown


def cash_flow_direction(value: Any) -> CashFlowDirection:
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
Side = Annotated[OrderSide, str_enum(OrderSide)]
Status = Annotated[OrderStatus, str_enum(OrderStatus)]
Kind = Annotated[OrderType, str_enum(OrderType)]
Tag = Annotated[OrderTag, str_enum(OrderTag)]
Tif = Annotated[TimeInForceType, str_enum(TimeInForceType)]
OptTrigger = Annotated[TriggerStatus | None, BeforeValidator(_trigger_status)]
OptRth = Annotated[OutsideRTH | None, BeforeValidator(_outside_rth)]


class WireModel(BaseModel):
    """Frozen; unknown keys ignored; fields settable by name or wire alias.

    ``defer_build``: a model's validator is built on its first use rather than at import, so a
    process that never touches, say, fund positions never pays for them (start-up time).
    """

    model_config = ConfigDict(frozen=True, extra="ignore", populate_by_name=True, defer_build=True)


__all__ = [
    "Dec",
    "DecOrZero",
    "ExecPrice",
    "Kind",
    "OptDate",
    "OptDec",
    "OptLevel",
    "OptRth",
    "OptStr",
    "OptTimestamp",
    "OptTrigger",
    "Side",
    "Status",
    "Tag",
    "Tif",
    "Timestamp",
    "WireModel",
    "WireStr",
    "balance_type",
    "cash_flow_direction",
    "lenient_timestamp_or_none",
    "risk_level",
    "str_enum",
]
