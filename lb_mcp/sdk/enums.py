"""Enumerations with the official SDK's member names and the wire values as member values.

``OrderStatus.New.value == "NewStatus"``: the name is what Longbridge users type, the value is what
travels. Unknown wire strings map to ``Unknown`` (as the official SDK does) via ``parse``.
"""

from __future__ import annotations

from enum import Enum, IntEnum, StrEnum
from typing import Final, Self
from zoneinfo import ZoneInfo


class _WireStr(StrEnum):
    @classmethod
    def parse(cls, value: object) -> Self:
        try:
            return cls(str(value))
        except ValueError:
            return cls["Unknown"]


class Market(_WireStr):
    Unknown = "Unknown"
    US = "US"
    HK = "HK"
    CN = "CN"
    SG = "SG"
    Crypto = "Crypto"


class OrderSide(_WireStr):
    Unknown = "UnknownSide"
    Buy = "Buy"
    Sell = "Sell"


class OrderType(_WireStr):
    Unknown = "UnknownOrderType"
    LO = "LO"
    ELO = "ELO"
    MO = "MO"
    AO = "AO"
    ALO = "ALO"
    ODD = "ODD"
    LIT = "LIT"
    MIT = "MIT"
    TSLPAMT = "TSLPAMT"
    TSLPPCT = "TSLPPCT"
    TSMAMT = "TSMAMT"
    TSMPCT = "TSMPCT"
    SLO = "SLO"


class OrderStatus(_WireStr):
    Unknown = "UnknownOrderStatus"
    NotReported = "NotReported"
    ReplacedNotReported = "ReplacedNotReported"
    ProtectedNotReported = "ProtectedNotReported"
    VarietiesNotReported = "VarietiesNotReported"
    DelayedNotReported = "DelayedNotReported"
    Filled = "FilledStatus"
    WaitToNew = "WaitToNew"
    New = "NewStatus"
    WaitToReplace = "WaitToReplace"
    PendingReplace = "PendingReplaceStatus"
    Replaced = "ReplacedStatus"
    PartialFilled = "PartialFilledStatus"
    WaitToCancel = "WaitToCancel"
    PendingCancel = "PendingCancelStatus"
    Rejected = "RejectedStatus"
    Canceled = "CanceledStatus"
    Expired = "ExpiredStatus"
    PartialWithdrawal = "PartialWithdrawal"

    @property
    def is_terminal(self) -> bool:
        return self in _TERMINAL

    @property
    def is_open(self) -> bool:
        return self not in _TERMINAL and self is not OrderStatus.Unknown


_TERMINAL = frozenset(
    {
        OrderStatus.Filled,
        OrderStatus.Rejected,
        OrderStatus.Canceled,
        OrderStatus.Expired,
        OrderStatus.PartialWithdrawal,
    }
)


class OrderTag(_WireStr):
    Unknown = "Unknown"
    Normal = "Normal"
    LongTerm = "Gtc"
    Grey = "Grey"


class TriggerStatus(_WireStr):
    Unknown = "Unknown"
    NotUsed = "NOT_USED"
    Deactive = "DEACTIVE"
    Active = "ACTIVE"
    Released = "RELEASED"


class TimeInForceType(_WireStr):
    Unknown = "Unknown"
    Day = "Day"
    GoodTilCanceled = "GTC"
    GoodTilDate = "GTD"


class OutsideRTH(_WireStr):
    Unknown = "UnknownOutsideRth"
    RTHOnly = "RTH_ONLY"
    AnyTime = "ANY_TIME"
    Overnight = "OVERNIGHT"
    OptionPreMarket = "OPTION_PRE_MARKET"


class TopicType(_WireStr):
    Unknown = "Unknown"
    Private = "private"


class BalanceType(IntEnum):
    Unknown = 0
    Cash = 1
    Stock = 2
    Fund = 3


class CashFlowDirection(IntEnum):
    Unknown = 0
    Out = 1
    In = 2


class SubType(IntEnum):
    """Quote subscription kinds; the value is the protobuf ``SubType`` number."""

    Quote = 1
    Depth = 2
    Brokers = 3
    Trade = 4


class TradeStatus(IntEnum):
    Normal = 0
    Halted = 1
    Delisted = 2
    Fuse = 3
    PrepareList = 4
    CodeMoved = 5
    ToBeOpened = 6
    SplitStockHalts = 7
    Expired = 8
    WarrantPrepareList = 9
    Suspend = 10


class TradeSession(IntEnum):
    Intraday = 0
    Pre = 1
    Post = 2
    Overnight = 3


class TradeSessions(IntEnum):
    """Which sessions a pull covers: the wire's ``trade_session`` int32 (0 or 100)."""

    Intraday = 0
    All = 100


class TradeDirection(IntEnum):
    Neutral = 0
    Down = 1
    Up = 2


class AdjustType(IntEnum):
    NoAdjust = 0
    ForwardAdjust = 1


class Period(IntEnum):
    Unknown = 0
    Min_1 = 1
    Min_2 = 2
    Min_3 = 3
    Min_5 = 5
    Min_10 = 10
    Min_15 = 15
    Min_20 = 20
    Min_30 = 30
    Min_45 = 45
    Min_60 = 60
    Min_120 = 120
    Min_180 = 180
    Min_240 = 240
    Day = 1000
    Week = 2000
    Month = 3000
    Quarter = 3500
    Year = 4000


class Mode(Enum):
    """Where a backend points: the embedded simulator or real credentials."""

    SANDBOX = "sandbox"
    LIVE = "live"


MARKET_TIMEZONES: Final[dict[Market, ZoneInfo]] = {
    Market.HK: ZoneInfo("Asia/Hong_Kong"),
    Market.US: ZoneInfo("America/New_York"),
    Market.CN: ZoneInfo("Asia/Shanghai"),
    Market.SG: ZoneInfo("Asia/Singapore"),
}


def market_timezone(market: Market) -> ZoneInfo | None:
    """The exchange's local time zone: trading days and session times are in it."""
    return MARKET_TIMEZONES.get(market)


def market_of(symbol: str) -> Market:
    """Market of a ``TICKER.REGION`` symbol (``SH``/``SZ`` → ``CN``)."""
    region = symbol.rsplit(".", 1)[-1].upper() if "." in symbol else ""
    if region in ("SH", "SZ"):
        return Market.CN
    return Market.parse(region)


__all__ = [
    "MARKET_TIMEZONES",
    "AdjustType",
    "BalanceType",
    "CashFlowDirection",
    "Market",
    "Mode",
    "OrderSide",
    "OrderStatus",
    "OrderTag",
    "OrderType",
    "OutsideRTH",
    "Period",
    "SubType",
    "TimeInForceType",
    "TopicType",
    "TradeDirection",
    "TradeSession",
    "TradeSessions",
    "TradeStatus",
    "TriggerStatus",
    "market_of",
    "market_timezone",
]
