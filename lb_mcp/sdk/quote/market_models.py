"""Models and enums of the market-data calls beyond plain quotes, with the official SDK's names.

Options, warrants, participants, capital flow and distribution, calc indexes, watchlists, the
security list, market temperature and quote packages (``longbridge.openapi`` 5.3). Enum values are
the wire values: numbers on the quote socket (checked against the official SDK on the simulator),
strings where the wire carries text. Money is ``Decimal``, times are UTC.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from enum import IntEnum, StrEnum

from pydantic import BaseModel, ConfigDict, Field

from lb_mcp.sdk.enums import Market, TradeStatus


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, defer_build=True)


# ---------------------------------------------------------------------------- enums


class OptionType(StrEnum):
    Unknown = ""
    American = "A"
    Europe = "U"


class OptionDirection(StrEnum):
    Unknown = ""
    Put = "P"
    Call = "C"


class OptionExpiryCycleType(StrEnum):
    Monthly = ""
    Weekly = "W"
    Quarterly = "Q"
    Unknown = "?"


class OptionStandardAttr(StrEnum):
    Normal = ""
    Old = "old"
    Unknown = "?"


class WarrantType(IntEnum):
    Unknown = -1
    Call = 0
    Put = 1
    Bull = 2
    Bear = 3
    Inline = 4


class WarrantSortBy(IntEnum):
    LastDone = 0
    ChangeRate = 1
    ChangeValue = 2
    Volume = 3
    Turnover = 4
    ExpiryDate = 5
    StrikePrice = 6
    UpperStrikePrice = 7
    LowerStrikePrice = 8
    OutstandingQuantity = 9
    OutstandingRatio = 10
    Premium = 11
    ItmOtm = 12
    ImpliedVolatility = 13
    Delta = 14
    CallPrice = 15
    ToCallPrice = 16
    EffectiveLeverage = 17
    LeverageRatio = 18
    ConversionRatio = 19
    BalancePoint = 20
    Status = 21


class SortOrderType(IntEnum):
    Ascending = 0
    Descending = 1


class FilterWarrantExpiryDate(IntEnum):
    LT_3 = 1
    Between_3_6 = 2
    Between_6_12 = 3
    GT_12 = 4


class FilterWarrantInOutBoundsType(IntEnum):
    In = 1
    Out = 2


class WarrantStatus(IntEnum):
    Unknown = 0
    Suspend = 2
    PrepareList = 3
    Normal = 4


class CalcIndex(IntEnum):
    LastDone = 1
    ChangeValue = 2
    ChangeRate = 3
    Volume = 4
    Turnover = 5
    YtdChangeRate = 6
    TurnoverRate = 7
    TotalMarketValue = 8
    CapitalFlow = 9
    Amplitude = 10
    VolumeRatio = 11
    PeTtmRatio = 12
    PbRatio = 13
    DividendRatioTtm = 14
    FiveDayChangeRate = 15
    TenDayChangeRate = 16
    HalfYearChangeRate = 17
    FiveMinutesChangeRate = 18
    ExpiryDate = 19
    StrikePrice = 20
    UpperStrikePrice = 21
    LowerStrikePrice = 22
    OutstandingQty = 23
    OutstandingRatio = 24
    Premium = 25
    ItmOtm = 26
    ImpliedVolatility = 27
    WarrantDelta = 28
    CallPrice = 29
    ToCallPrice = 30
    EffectiveLeverage = 31
    LeverageRatio = 32
    ConversionRatio = 33
    BalancePoint = 34
    OpenInterest = 35
    Delta = 36
    Gamma = 37
    Theta = 38
    Vega = 39
    Rho = 40


class SecuritiesUpdateMode(StrEnum):
    Add = "add"
    Remove = "remove"
    Replace = "replace"


class SecurityListCategory(StrEnum):
    Overnight = "Overnight"


class Granularity(StrEnum):
    Unknown = ""
    Daily = "daily"
    Weekly = "weekly"
    Monthly = "monthly"


# ---------------------------------------------------------------------------- options


class OptionQuote(_Frozen):
    symbol: str
    last_done: Decimal
    prev_close: Decimal
    open: Decimal
    high: Decimal
    low: Decimal
    timestamp: datetime
    volume: int
    turnover: Decimal
    trade_status: TradeStatus
    implied_volatility: Decimal
    open_interest: int
    expiry_date: date
    strike_price: Decimal
    contract_multiplier: Decimal
    contract_type: OptionType
    contract_size: Decimal
    direction: OptionDirection
    historical_volatility: Decimal
    underlying_symbol: str


class StrikePriceInfo(_Frozen):
    """One strike of a chain (the socket's cmd 21 form: the call and the put side by side)."""

    price: Decimal
    call_symbol: str
    put_symbol: str
    standard: bool


class OptionChainContract(_Frozen):
    symbol: str
    expiry_date: date
    strike_price: Decimal
    direction: OptionDirection
    option_type: OptionExpiryCycleType
    standard_attr: OptionStandardAttr
    days_to_expiry: int


# ---------------------------------------------------------------------------- warrants


class WarrantQuote(_Frozen):
    symbol: str
    last_done: Decimal
    prev_close: Decimal
    open: Decimal
    high: Decimal
    low: Decimal
    timestamp: datetime
    volume: int
    turnover: Decimal
    trade_status: TradeStatus
    implied_volatility: Decimal
    expiry_date: date
    last_trade_date: date
    outstanding_ratio: Decimal
    outstanding_quantity: int
    conversion_ratio: Decimal
    category: WarrantType
    strike_price: Decimal
    upper_strike_price: Decimal
    lower_strike_price: Decimal
    call_price: Decimal
    underlying_symbol: str


class IssuerInfo(_Frozen):
    issuer_id: int
    name_cn: str
    name_en: str
    name_hk: str


class WarrantInfo(_Frozen):
    symbol: str
    warrant_type: WarrantType
    name: str
    last_done: Decimal
    change_rate: Decimal
    change_value: Decimal
    volume: int
    turnover: Decimal
    expiry_date: date | None
    strike_price: Decimal | None
    upper_strike_price: Decimal | None
    lower_strike_price: Decimal | None
    outstanding_qty: int
    outstanding_ratio: Decimal
    premium: Decimal
    itm_otm: Decimal | None
    implied_volatility: Decimal | None
    delta: Decimal | None
    call_price: Decimal | None
    to_call_price: Decimal | None
    effective_leverage: Decimal | None
    leverage_ratio: Decimal
    conversion_ratio: Decimal | None
    balance_point: Decimal | None
    status: WarrantStatus


# ---------------------------------------------------------------------------- market analytics


class ParticipantInfo(_Frozen):
    broker_ids: list[int]
    name_cn: str
    name_en: str
    name_hk: str


class CapitalFlowLine(_Frozen):
    inflow: Decimal
    timestamp: datetime


class CapitalDistribution(_Frozen):
    large: Decimal
    medium: Decimal
    small: Decimal


class CapitalDistributionResponse(_Frozen):
    timestamp: datetime
    capital_in: CapitalDistribution
    capital_out: CapitalDistribution


class SecurityCalcIndex(_Frozen):
    """Only the requested indexes are set; every other field is ``None`` (as the SDK)."""

    symbol: str
    last_done: Decimal | None = None
    change_value: Decimal | None = None
    change_rate: Decimal | None = None
    volume: int | None = None
    turnover: Decimal | None = None
    ytd_change_rate: Decimal | None = None
    turnover_rate: Decimal | None = None
    total_market_value: Decimal | None = None
    capital_flow: Decimal | None = None
    amplitude: Decimal | None = None
    volume_ratio: Decimal | None = None
    pe_ttm_ratio: Decimal | None = None
    pb_ratio: Decimal | None = None
    dividend_ratio_ttm: Decimal | None = None
    five_day_change_rate: Decimal | None = None
    ten_day_change_rate: Decimal | None = None
    half_year_change_rate: Decimal | None = None
    five_minutes_change_rate: Decimal | None = None
    expiry_date: date | None = None
    strike_price: Decimal | None = None
    upper_strike_price: Decimal | None = None
    lower_strike_price: Decimal | None = None
    outstanding_qty: int | None = None
    outstanding_ratio: Decimal | None = None
    premium: Decimal | None = None
    itm_otm: Decimal | None = None
    implied_volatility: Decimal | None = None
    warrant_delta: Decimal | None = None
    call_price: Decimal | None = None
    to_call_price: Decimal | None = None
    effective_leverage: Decimal | None = None
    leverage_ratio: Decimal | None = None
    conversion_ratio: Decimal | None = None
    balance_point: Decimal | None = None
    open_interest: int | None = None
    delta: Decimal | None = None
    gamma: Decimal | None = None
    theta: Decimal | None = None
    vega: Decimal | None = None
    rho: Decimal | None = None


# ---------------------------------------------------------------------------- REST reads


class WatchlistSecurity(_Frozen):
    symbol: str
    market: Market
    name: str
    watched_price: Decimal | None
    watched_at: datetime
    is_pinned: bool = False


class WatchlistGroup(_Frozen):
    id: int
    name: str
    securities: list[WatchlistSecurity] = Field(default_factory=list)


class Security(_Frozen):
    symbol: str
    name_cn: str
    name_en: str
    name_hk: str


class MarketTemperature(_Frozen):
    temperature: int
    description: str
    valuation: int
    sentiment: int
    timestamp: datetime


class HistoryMarketTemperatureResponse(_Frozen):
    granularity: Granularity
    records: list[MarketTemperature]


class QuotePackageDetail(_Frozen):
    key: str
    name: str
    description: str
    start_at: datetime
    end_at: datetime


__all__ = [
    "CalcIndex",
    "CapitalDistribution",
    "CapitalDistributionResponse",
    "CapitalFlowLine",
    "FilterWarrantExpiryDate",
    "FilterWarrantInOutBoundsType",
    "Granularity",
    "HistoryMarketTemperatureResponse",
    "IssuerInfo",
    "MarketTemperature",
    "OptionChainContract",
    "OptionDirection",
    "OptionExpiryCycleType",
    "OptionQuote",
    "OptionStandardAttr",
    "OptionType",
    "ParticipantInfo",
    "QuotePackageDetail",
    "SecuritiesUpdateMode",
    "Security",
    "SecurityCalcIndex",
    "SecurityListCategory",
    "SortOrderType",
    "StrikePriceInfo",
    "WarrantInfo",
    "WarrantQuote",
    "WarrantSortBy",
    "WarrantStatus",
    "WarrantType",
    "WatchlistGroup",
    "WatchlistSecurity",
]
