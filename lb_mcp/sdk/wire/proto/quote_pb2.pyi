from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Command(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    UNKNOWN_COMMAND: _ClassVar[Command]
    HEART_BEAT: _ClassVar[Command]
    AUTH: _ClassVar[Command]
    RECONNECT: _ClassVar[Command]
    QueryUserQuoteProfile: _ClassVar[Command]
    Subscription: _ClassVar[Command]
    Subscribe: _ClassVar[Command]
    Unsubscribe: _ClassVar[Command]
    QueryMarketTradePeriod: _ClassVar[Command]
    QueryMarketTradeDay: _ClassVar[Command]
    QuerySecurityStaticInfo: _ClassVar[Command]
    QuerySecurityQuote: _ClassVar[Command]
    QueryOptionQuote: _ClassVar[Command]
    QueryWarrantQuote: _ClassVar[Command]
    QueryDepth: _ClassVar[Command]
    QueryBrokers: _ClassVar[Command]
    QueryParticipantBrokerIds: _ClassVar[Command]
    QueryTrade: _ClassVar[Command]
    QueryIntraday: _ClassVar[Command]
    QueryCandlestick: _ClassVar[Command]
    QueryOptionChainDate: _ClassVar[Command]
    QueryOptionChainDateStrikeInfo: _ClassVar[Command]
    QueryWarrantIssuerInfo: _ClassVar[Command]
    QueryWarrantFilterList: _ClassVar[Command]
    QueryCapitalFlowIntraday: _ClassVar[Command]
    QueryCapitalFlowDistribution: _ClassVar[Command]
    QuerySecurityCalcIndex: _ClassVar[Command]
    QueryHistoryCandlestick: _ClassVar[Command]
    PushQuoteData: _ClassVar[Command]
    PushDepthData: _ClassVar[Command]
    PushBrokersData: _ClassVar[Command]
    PushTradeData: _ClassVar[Command]

class TradeStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    NORMAL: _ClassVar[TradeStatus]
    HALTED: _ClassVar[TradeStatus]
    DELISTED: _ClassVar[TradeStatus]
    FUSE: _ClassVar[TradeStatus]
    PREPARE_LIST: _ClassVar[TradeStatus]
    CODE_MOVED: _ClassVar[TradeStatus]
    TO_BE_OPENED: _ClassVar[TradeStatus]
    SPLIT_STOCK_HALTS: _ClassVar[TradeStatus]
    EXPIRED: _ClassVar[TradeStatus]
    WARRANT_PREPARE_LIST: _ClassVar[TradeStatus]
    SUSPEND_TRADE: _ClassVar[TradeStatus]

class TradeSession(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    NORMAL_TRADE: _ClassVar[TradeSession]
    PRE_TRADE: _ClassVar[TradeSession]
    POST_TRADE: _ClassVar[TradeSession]
    OVERNIGHT_TRADE: _ClassVar[TradeSession]

class AdjustType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    NO_ADJUST: _ClassVar[AdjustType]
    FORWARD_ADJUST: _ClassVar[AdjustType]

class Period(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    UNKNOWN_PERIOD: _ClassVar[Period]
    ONE_MINUTE: _ClassVar[Period]
    TWO_MINUTE: _ClassVar[Period]
    THREE_MINUTE: _ClassVar[Period]
    FIVE_MINUTE: _ClassVar[Period]
    TEN_MINUTE: _ClassVar[Period]
    FIFTEEN_MINUTE: _ClassVar[Period]
    TWENTY_MINUTE: _ClassVar[Period]
    THIRTY_MINUTE: _ClassVar[Period]
    FORTY_FIVE_MINUTE: _ClassVar[Period]
    SIXTY_MINUTE: _ClassVar[Period]
    TWO_HOUR: _ClassVar[Period]
    THREE_HOUR: _ClassVar[Period]
    FOUR_HOUR: _ClassVar[Period]
    DAY: _ClassVar[Period]
    WEEK: _ClassVar[Period]
    MONTH: _ClassVar[Period]
    QUARTER: _ClassVar[Period]
    YEAR: _ClassVar[Period]

class SubType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    UNKNOWN_TYPE: _ClassVar[SubType]
    QUOTE: _ClassVar[SubType]
    DEPTH: _ClassVar[SubType]
    BROKERS: _ClassVar[SubType]
    TRADE: _ClassVar[SubType]

class PushQuoteTag(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    Normal: _ClassVar[PushQuoteTag]
    Eod: _ClassVar[PushQuoteTag]

class CalcIndex(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    CALCINDEX_UNKNOWN: _ClassVar[CalcIndex]
    CALCINDEX_LAST_DONE: _ClassVar[CalcIndex]
    CALCINDEX_CHANGE_VAL: _ClassVar[CalcIndex]
    CALCINDEX_CHANGE_RATE: _ClassVar[CalcIndex]
    CALCINDEX_VOLUME: _ClassVar[CalcIndex]
    CALCINDEX_TURNOVER: _ClassVar[CalcIndex]
    CALCINDEX_YTD_CHANGE_RATE: _ClassVar[CalcIndex]
    CALCINDEX_TURNOVER_RATE: _ClassVar[CalcIndex]
    CALCINDEX_TOTAL_MARKET_VALUE: _ClassVar[CalcIndex]
    CALCINDEX_CAPITAL_FLOW: _ClassVar[CalcIndex]
    CALCINDEX_AMPLITUDE: _ClassVar[CalcIndex]
    CALCINDEX_VOLUME_RATIO: _ClassVar[CalcIndex]
    CALCINDEX_PE_TTM_RATIO: _ClassVar[CalcIndex]
    CALCINDEX_PB_RATIO: _ClassVar[CalcIndex]
    CALCINDEX_DIVIDEND_RATIO_TTM: _ClassVar[CalcIndex]
    CALCINDEX_FIVE_DAY_CHANGE_RATE: _ClassVar[CalcIndex]
    CALCINDEX_TEN_DAY_CHANGE_RATE: _ClassVar[CalcIndex]
    CALCINDEX_HALF_YEAR_CHANGE_RATE: _ClassVar[CalcIndex]
    CALCINDEX_FIVE_MINUTES_CHANGE_RATE: _ClassVar[CalcIndex]
    CALCINDEX_EXPIRY_DATE: _ClassVar[CalcIndex]
    CALCINDEX_STRIKE_PRICE: _ClassVar[CalcIndex]
    CALCINDEX_UPPER_STRIKE_PRICE: _ClassVar[CalcIndex]
    CALCINDEX_LOWER_STRIKE_PRICE: _ClassVar[CalcIndex]
    CALCINDEX_OUTSTANDING_QTY: _ClassVar[CalcIndex]
    CALCINDEX_OUTSTANDING_RATIO: _ClassVar[CalcIndex]
    CALCINDEX_PREMIUM: _ClassVar[CalcIndex]
    CALCINDEX_ITM_OTM: _ClassVar[CalcIndex]
    CALCINDEX_IMPLIED_VOLATILITY: _ClassVar[CalcIndex]
    CALCINDEX_WARRANT_DELTA: _ClassVar[CalcIndex]
    CALCINDEX_CALL_PRICE: _ClassVar[CalcIndex]
    CALCINDEX_TO_CALL_PRICE: _ClassVar[CalcIndex]
    CALCINDEX_EFFECTIVE_LEVERAGE: _ClassVar[CalcIndex]
    CALCINDEX_LEVERAGE_RATIO: _ClassVar[CalcIndex]
    CALCINDEX_CONVERSION_RATIO: _ClassVar[CalcIndex]
    CALCINDEX_BALANCE_POINT: _ClassVar[CalcIndex]
    CALCINDEX_OPEN_INTEREST: _ClassVar[CalcIndex]
    CALCINDEX_DELTA: _ClassVar[CalcIndex]
    CALCINDEX_GAMMA: _ClassVar[CalcIndex]
    CALCINDEX_THETA: _ClassVar[CalcIndex]
    CALCINDEX_VEGA: _ClassVar[CalcIndex]
    CALCINDEX_RHO: _ClassVar[CalcIndex]

class HistoryCandlestickQueryType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    UNKNOWN_QUERY_TYPE: _ClassVar[HistoryCandlestickQueryType]
    QUERY_BY_OFFSET: _ClassVar[HistoryCandlestickQueryType]
    QUERY_BY_DATE: _ClassVar[HistoryCandlestickQueryType]

class Direction(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    BACKWARD: _ClassVar[Direction]
    FORWARD: _ClassVar[Direction]
UNKNOWN_COMMAND: Command
HEART_BEAT: Command
AUTH: Command
RECONNECT: Command
QueryUserQuoteProfile: Command
Subscription: Command
Subscribe: Command
Unsubscribe: Command
QueryMarketTradePeriod: Command
QueryMarketTradeDay: Command
QuerySecurityStaticInfo: Command
QuerySecurityQuote: Command
QueryOptionQuote: Command
QueryWarrantQuote: Command
QueryDepth: Command
QueryBrokers: Command
QueryParticipantBrokerIds: Command
QueryTrade: Command
QueryIntraday: Command
QueryCandlestick: Command
QueryOptionChainDate: Command
QueryOptionChainDateStrikeInfo: Command
QueryWarrantIssuerInfo: Command
QueryWarrantFilterList: Command
QueryCapitalFlowIntraday: Command
QueryCapitalFlowDistribution: Command
QuerySecurityCalcIndex: Command
QueryHistoryCandlestick: Command
PushQuoteData: Command
PushDepthData: Command
PushBrokersData: Command
PushTradeData: Command
NORMAL: TradeStatus
HALTED: TradeStatus
DELISTED: TradeStatus
FUSE: TradeStatus
PREPARE_LIST: TradeStatus
CODE_MOVED: TradeStatus
TO_BE_OPENED: TradeStatus
SPLIT_STOCK_HALTS: TradeStatus
EXPIRED: TradeStatus
WARRANT_PREPARE_LIST: TradeStatus
SUSPEND_TRADE: TradeStatus
NORMAL_TRADE: TradeSession
PRE_TRADE: TradeSession
POST_TRADE: TradeSession
OVERNIGHT_TRADE: TradeSession
NO_ADJUST: AdjustType
FORWARD_ADJUST: AdjustType
UNKNOWN_PERIOD: Period
ONE_MINUTE: Period
TWO_MINUTE: Period
THREE_MINUTE: Period
FIVE_MINUTE: Period
TEN_MINUTE: Period
FIFTEEN_MINUTE: Period
TWENTY_MINUTE: Period
THIRTY_MINUTE: Period
FORTY_FIVE_MINUTE: Period
SIXTY_MINUTE: Period
TWO_HOUR: Period
THREE_HOUR: Period
FOUR_HOUR: Period
DAY: Period
WEEK: Period
MONTH: Period
QUARTER: Period
YEAR: Period
UNKNOWN_TYPE: SubType
QUOTE: SubType
DEPTH: SubType
BROKERS: SubType
TRADE: SubType
Normal: PushQuoteTag
Eod: PushQuoteTag
CALCINDEX_UNKNOWN: CalcIndex
CALCINDEX_LAST_DONE: CalcIndex
CALCINDEX_CHANGE_VAL: CalcIndex
CALCINDEX_CHANGE_RATE: CalcIndex
CALCINDEX_VOLUME: CalcIndex
CALCINDEX_TURNOVER: CalcIndex
CALCINDEX_YTD_CHANGE_RATE: CalcIndex
CALCINDEX_TURNOVER_RATE: CalcIndex
CALCINDEX_TOTAL_MARKET_VALUE: CalcIndex
CALCINDEX_CAPITAL_FLOW: CalcIndex
CALCINDEX_AMPLITUDE: CalcIndex
CALCINDEX_VOLUME_RATIO: CalcIndex
CALCINDEX_PE_TTM_RATIO: CalcIndex
CALCINDEX_PB_RATIO: CalcIndex
CALCINDEX_DIVIDEND_RATIO_TTM: CalcIndex
CALCINDEX_FIVE_DAY_CHANGE_RATE: CalcIndex
CALCINDEX_TEN_DAY_CHANGE_RATE: CalcIndex
CALCINDEX_HALF_YEAR_CHANGE_RATE: CalcIndex
CALCINDEX_FIVE_MINUTES_CHANGE_RATE: CalcIndex
CALCINDEX_EXPIRY_DATE: CalcIndex
CALCINDEX_STRIKE_PRICE: CalcIndex
CALCINDEX_UPPER_STRIKE_PRICE: CalcIndex
CALCINDEX_LOWER_STRIKE_PRICE: CalcIndex
CALCINDEX_OUTSTANDING_QTY: CalcIndex
CALCINDEX_OUTSTANDING_RATIO: CalcIndex
CALCINDEX_PREMIUM: CalcIndex
CALCINDEX_ITM_OTM: CalcIndex
CALCINDEX_IMPLIED_VOLATILITY: CalcIndex
CALCINDEX_WARRANT_DELTA: CalcIndex
CALCINDEX_CALL_PRICE: CalcIndex
CALCINDEX_TO_CALL_PRICE: CalcIndex
CALCINDEX_EFFECTIVE_LEVERAGE: CalcIndex
CALCINDEX_LEVERAGE_RATIO: CalcIndex
CALCINDEX_CONVERSION_RATIO: CalcIndex
CALCINDEX_BALANCE_POINT: CalcIndex
CALCINDEX_OPEN_INTEREST: CalcIndex
CALCINDEX_DELTA: CalcIndex
CALCINDEX_GAMMA: CalcIndex
CALCINDEX_THETA: CalcIndex
CALCINDEX_VEGA: CalcIndex
CALCINDEX_RHO: CalcIndex
UNKNOWN_QUERY_TYPE: HistoryCandlestickQueryType
QUERY_BY_OFFSET: HistoryCandlestickQueryType
QUERY_BY_DATE: HistoryCandlestickQueryType
BACKWARD: Direction
FORWARD: Direction

class UserQuoteProfileRequest(_message.Message):
    __slots__ = ("language",)
    LANGUAGE_FIELD_NUMBER: _ClassVar[int]
    language: str
    def __init__(self, language: _Optional[str] = ...) -> None: ...

class RateLimit(_message.Message):
    __slots__ = ("command", "limit", "burst")
    COMMAND_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    BURST_FIELD_NUMBER: _ClassVar[int]
    command: Command
    limit: int
    burst: int
    def __init__(self, command: _Optional[_Union[Command, str]] = ..., limit: _Optional[int] = ..., burst: _Optional[int] = ...) -> None: ...

class UserQuoteLevelDetail(_message.Message):
    __slots__ = ("by_package_key", "by_market_code")
    class PackageDetail(_message.Message):
        __slots__ = ("key", "name", "description", "start", "end")
        KEY_FIELD_NUMBER: _ClassVar[int]
        NAME_FIELD_NUMBER: _ClassVar[int]
        DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
        START_FIELD_NUMBER: _ClassVar[int]
        END_FIELD_NUMBER: _ClassVar[int]
        key: str
        name: str
        description: str
        start: int
        end: int
        def __init__(self, key: _Optional[str] = ..., name: _Optional[str] = ..., description: _Optional[str] = ..., start: _Optional[int] = ..., end: _Optional[int] = ...) -> None: ...
    class MarketPackageDetail(_message.Message):
        __slots__ = ("packages", "warning_msg")
        PACKAGES_FIELD_NUMBER: _ClassVar[int]
        WARNING_MSG_FIELD_NUMBER: _ClassVar[int]
        packages: _containers.RepeatedCompositeFieldContainer[UserQuoteLevelDetail.PackageDetail]
        warning_msg: str
        def __init__(self, packages: _Optional[_Iterable[_Union[UserQuoteLevelDetail.PackageDetail, _Mapping]]] = ..., warning_msg: _Optional[str] = ...) -> None: ...
    class ByPackageKeyEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: UserQuoteLevelDetail.PackageDetail
        def __init__(self, key: _Optional[str] = ..., value: _Optional[_Union[UserQuoteLevelDetail.PackageDetail, _Mapping]] = ...) -> None: ...
    class ByMarketCodeEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: UserQuoteLevelDetail.MarketPackageDetail
        def __init__(self, key: _Optional[str] = ..., value: _Optional[_Union[UserQuoteLevelDetail.MarketPackageDetail, _Mapping]] = ...) -> None: ...
    BY_PACKAGE_KEY_FIELD_NUMBER: _ClassVar[int]
    BY_MARKET_CODE_FIELD_NUMBER: _ClassVar[int]
    by_package_key: _containers.MessageMap[str, UserQuoteLevelDetail.PackageDetail]
    by_market_code: _containers.MessageMap[str, UserQuoteLevelDetail.MarketPackageDetail]
    def __init__(self, by_package_key: _Optional[_Mapping[str, UserQuoteLevelDetail.PackageDetail]] = ..., by_market_code: _Optional[_Mapping[str, UserQuoteLevelDetail.MarketPackageDetail]] = ...) -> None: ...

class UserQuoteProfileResponse(_message.Message):
    __slots__ = ("member_id", "quote_level", "subscribe_limit", "history_candlestick_limit", "rate_limit", "quote_level_detail")
    MEMBER_ID_FIELD_NUMBER: _ClassVar[int]
    QUOTE_LEVEL_FIELD_NUMBER: _ClassVar[int]
    SUBSCRIBE_LIMIT_FIELD_NUMBER: _ClassVar[int]
    HISTORY_CANDLESTICK_LIMIT_FIELD_NUMBER: _ClassVar[int]
    RATE_LIMIT_FIELD_NUMBER: _ClassVar[int]
    QUOTE_LEVEL_DETAIL_FIELD_NUMBER: _ClassVar[int]
    member_id: int
    quote_level: str
    subscribe_limit: int
    history_candlestick_limit: int
    rate_limit: _containers.RepeatedCompositeFieldContainer[RateLimit]
    quote_level_detail: UserQuoteLevelDetail
    def __init__(self, member_id: _Optional[int] = ..., quote_level: _Optional[str] = ..., subscribe_limit: _Optional[int] = ..., history_candlestick_limit: _Optional[int] = ..., rate_limit: _Optional[_Iterable[_Union[RateLimit, _Mapping]]] = ..., quote_level_detail: _Optional[_Union[UserQuoteLevelDetail, _Mapping]] = ...) -> None: ...

class SecurityRequest(_message.Message):
    __slots__ = ("symbol",)
    SYMBOL_FIELD_NUMBER: _ClassVar[int]
    symbol: str
    def __init__(self, symbol: _Optional[str] = ...) -> None: ...

class MultiSecurityRequest(_message.Message):
    __slots__ = ("symbol",)
    SYMBOL_FIELD_NUMBER: _ClassVar[int]
    symbol: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, symbol: _Optional[_Iterable[str]] = ...) -> None: ...

class SecurityStaticInfoResponse(_message.Message):
    __slots__ = ("secu_static_info",)
    SECU_STATIC_INFO_FIELD_NUMBER: _ClassVar[int]
    secu_static_info: _containers.RepeatedCompositeFieldContainer[StaticInfo]
    def __init__(self, secu_static_info: _Optional[_Iterable[_Union[StaticInfo, _Mapping]]] = ...) -> None: ...

class StaticInfo(_message.Message):
    __slots__ = ("symbol", "name_cn", "name_en", "name_hk", "listing_date", "exchange", "currency", "lot_size", "total_shares", "circulating_shares", "hk_shares", "eps", "eps_ttm", "bps", "dividend_yield", "stock_derivatives", "board")
    SYMBOL_FIELD_NUMBER: _ClassVar[int]
    NAME_CN_FIELD_NUMBER: _ClassVar[int]
    NAME_EN_FIELD_NUMBER: _ClassVar[int]
    NAME_HK_FIELD_NUMBER: _ClassVar[int]
    LISTING_DATE_FIELD_NUMBER: _ClassVar[int]
    EXCHANGE_FIELD_NUMBER: _ClassVar[int]
    CURRENCY_FIELD_NUMBER: _ClassVar[int]
    LOT_SIZE_FIELD_NUMBER: _ClassVar[int]
    TOTAL_SHARES_FIELD_NUMBER: _ClassVar[int]
    CIRCULATING_SHARES_FIELD_NUMBER: _ClassVar[int]
    HK_SHARES_FIELD_NUMBER: _ClassVar[int]
    EPS_FIELD_NUMBER: _ClassVar[int]
    EPS_TTM_FIELD_NUMBER: _ClassVar[int]
    BPS_FIELD_NUMBER: _ClassVar[int]
    DIVIDEND_YIELD_FIELD_NUMBER: _ClassVar[int]
    STOCK_DERIVATIVES_FIELD_NUMBER: _ClassVar[int]
    BOARD_FIELD_NUMBER: _ClassVar[int]
    symbol: str
    name_cn: str
    name_en: str
    name_hk: str
    listing_date: str
    exchange: str
    currency: str
    lot_size: int
    total_shares: int
    circulating_shares: int
    hk_shares: int
    eps: str
    eps_ttm: str
    bps: str
    dividend_yield: str
    stock_derivatives: _containers.RepeatedScalarFieldContainer[int]
    board: str
    def __init__(self, symbol: _Optional[str] = ..., name_cn: _Optional[str] = ..., name_en: _Optional[str] = ..., name_hk: _Optional[str] = ..., listing_date: _Optional[str] = ..., exchange: _Optional[str] = ..., currency: _Optional[str] = ..., lot_size: _Optional[int] = ..., total_shares: _Optional[int] = ..., circulating_shares: _Optional[int] = ..., hk_shares: _Optional[int] = ..., eps: _Optional[str] = ..., eps_ttm: _Optional[str] = ..., bps: _Optional[str] = ..., dividend_yield: _Optional[str] = ..., stock_derivatives: _Optional[_Iterable[int]] = ..., board: _Optional[str] = ...) -> None: ...

class SecurityQuoteResponse(_message.Message):
    __slots__ = ("secu_quote",)
    SECU_QUOTE_FIELD_NUMBER: _ClassVar[int]
    secu_quote: _containers.RepeatedCompositeFieldContainer[SecurityQuote]
    def __init__(self, secu_quote: _Optional[_Iterable[_Union[SecurityQuote, _Mapping]]] = ...) -> None: ...

class SecurityQuote(_message.Message):
    __slots__ = ("symbol", "last_done", "prev_close", "open", "high", "low", "timestamp", "volume", "turnover", "trade_status", "pre_market_quote", "post_market_quote", "over_night_quote")
    SYMBOL_FIELD_NUMBER: _ClassVar[int]
    LAST_DONE_FIELD_NUMBER: _ClassVar[int]
    PREV_CLOSE_FIELD_NUMBER: _ClassVar[int]
    OPEN_FIELD_NUMBER: _ClassVar[int]
    HIGH_FIELD_NUMBER: _ClassVar[int]
    LOW_FIELD_NUMBER: _ClassVar[int]
    TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    VOLUME_FIELD_NUMBER: _ClassVar[int]
    TURNOVER_FIELD_NUMBER: _ClassVar[int]
    TRADE_STATUS_FIELD_NUMBER: _ClassVar[int]
    PRE_MARKET_QUOTE_FIELD_NUMBER: _ClassVar[int]
    POST_MARKET_QUOTE_FIELD_NUMBER: _ClassVar[int]
    OVER_NIGHT_QUOTE_FIELD_NUMBER: _ClassVar[int]
    symbol: str
    last_done: str
    prev_close: str
    open: str
    high: str
    low: str
    timestamp: int
    volume: int
    turnover: str
    trade_status: TradeStatus
    pre_market_quote: PrePostQuote
    post_market_quote: PrePostQuote
    over_night_quote: PrePostQuote
    def __init__(self, symbol: _Optional[str] = ..., last_done: _Optional[str] = ..., prev_close: _Optional[str] = ..., open: _Optional[str] = ..., high: _Optional[str] = ..., low: _Optional[str] = ..., timestamp: _Optional[int] = ..., volume: _Optional[int] = ..., turnover: _Optional[str] = ..., trade_status: _Optional[_Union[TradeStatus, str]] = ..., pre_market_quote: _Optional[_Union[PrePostQuote, _Mapping]] = ..., post_market_quote: _Optional[_Union[PrePostQuote, _Mapping]] = ..., over_night_quote: _Optional[_Union[PrePostQuote, _Mapping]] = ...) -> None: ...

class PrePostQuote(_message.Message):
    __slots__ = ("last_done", "timestamp", "volume", "turnover", "high", "low", "prev_close")
    LAST_DONE_FIELD_NUMBER: _ClassVar[int]
    TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    VOLUME_FIELD_NUMBER: _ClassVar[int]
    TURNOVER_FIELD_NUMBER: _ClassVar[int]
    HIGH_FIELD_NUMBER: _ClassVar[int]
    LOW_FIELD_NUMBER: _ClassVar[int]
    PREV_CLOSE_FIELD_NUMBER: _ClassVar[int]
    last_done: str
    timestamp: int
    volume: int
    turnover: str
    high: str
    low: str
    prev_close: str
    def __init__(self, last_done: _Optional[str] = ..., timestamp: _Optional[int] = ..., volume: _Optional[int] = ..., turnover: _Optional[str] = ..., high: _Optional[str] = ..., low: _Optional[str] = ..., prev_close: _Optional[str] = ...) -> None: ...

class OptionQuoteResponse(_message.Message):
    __slots__ = ("secu_quote",)
    SECU_QUOTE_FIELD_NUMBER: _ClassVar[int]
    secu_quote: _containers.RepeatedCompositeFieldContainer[OptionQuote]
    def __init__(self, secu_quote: _Optional[_Iterable[_Union[OptionQuote, _Mapping]]] = ...) -> None: ...

class OptionQuote(_message.Message):
    __slots__ = ("symbol", "last_done", "prev_close", "open", "high", "low", "timestamp", "volume", "turnover", "trade_status", "option_extend")
    SYMBOL_FIELD_NUMBER: _ClassVar[int]
    LAST_DONE_FIELD_NUMBER: _ClassVar[int]
    PREV_CLOSE_FIELD_NUMBER: _ClassVar[int]
    OPEN_FIELD_NUMBER: _ClassVar[int]
    HIGH_FIELD_NUMBER: _ClassVar[int]
    LOW_FIELD_NUMBER: _ClassVar[int]
    TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    VOLUME_FIELD_NUMBER: _ClassVar[int]
    TURNOVER_FIELD_NUMBER: _ClassVar[int]
    TRADE_STATUS_FIELD_NUMBER: _ClassVar[int]
    OPTION_EXTEND_FIELD_NUMBER: _ClassVar[int]
    symbol: str
    last_done: str
    prev_close: str
    open: str
    high: str
    low: str
    timestamp: int
    volume: int
    turnover: str
    trade_status: TradeStatus
    option_extend: OptionExtend
    def __init__(self, symbol: _Optional[str] = ..., last_done: _Optional[str] = ..., prev_close: _Optional[str] = ..., open: _Optional[str] = ..., high: _Optional[str] = ..., low: _Optional[str] = ..., timestamp: _Optional[int] = ..., volume: _Optional[int] = ..., turnover: _Optional[str] = ..., trade_status: _Optional[_Union[TradeStatus, str]] = ..., option_extend: _Optional[_Union[OptionExtend, _Mapping]] = ...) -> None: ...

class OptionExtend(_message.Message):
    __slots__ = ("implied_volatility", "open_interest", "expiry_date", "strike_price", "contract_multiplier", "contract_type", "contract_size", "direction", "historical_volatility", "underlying_symbol")
    IMPLIED_VOLATILITY_FIELD_NUMBER: _ClassVar[int]
    OPEN_INTEREST_FIELD_NUMBER: _ClassVar[int]
    EXPIRY_DATE_FIELD_NUMBER: _ClassVar[int]
    STRIKE_PRICE_FIELD_NUMBER: _ClassVar[int]
    CONTRACT_MULTIPLIER_FIELD_NUMBER: _ClassVar[int]
    CONTRACT_TYPE_FIELD_NUMBER: _ClassVar[int]
    CONTRACT_SIZE_FIELD_NUMBER: _ClassVar[int]
    DIRECTION_FIELD_NUMBER: _ClassVar[int]
    HISTORICAL_VOLATILITY_FIELD_NUMBER: _ClassVar[int]
    UNDERLYING_SYMBOL_FIELD_NUMBER: _ClassVar[int]
    implied_volatility: str
    open_interest: int
    expiry_date: str
    strike_price: str
    contract_multiplier: str
    contract_type: str
    contract_size: str
    direction: str
    historical_volatility: str
    underlying_symbol: str
    def __init__(self, implied_volatility: _Optional[str] = ..., open_interest: _Optional[int] = ..., expiry_date: _Optional[str] = ..., strike_price: _Optional[str] = ..., contract_multiplier: _Optional[str] = ..., contract_type: _Optional[str] = ..., contract_size: _Optional[str] = ..., direction: _Optional[str] = ..., historical_volatility: _Optional[str] = ..., underlying_symbol: _Optional[str] = ...) -> None: ...

class WarrantQuoteResponse(_message.Message):
    __slots__ = ("secu_quote",)
    SECU_QUOTE_FIELD_NUMBER: _ClassVar[int]
    secu_quote: _containers.RepeatedCompositeFieldContainer[WarrantQuote]
    def __init__(self, secu_quote: _Optional[_Iterable[_Union[WarrantQuote, _Mapping]]] = ...) -> None: ...

class WarrantQuote(_message.Message):
    __slots__ = ("symbol", "last_done", "prev_close", "open", "high", "low", "timestamp", "volume", "turnover", "trade_status", "warrant_extend")
    SYMBOL_FIELD_NUMBER: _ClassVar[int]
    LAST_DONE_FIELD_NUMBER: _ClassVar[int]
    PREV_CLOSE_FIELD_NUMBER: _ClassVar[int]
    OPEN_FIELD_NUMBER: _ClassVar[int]
    HIGH_FIELD_NUMBER: _ClassVar[int]
    LOW_FIELD_NUMBER: _ClassVar[int]
    TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    VOLUME_FIELD_NUMBER: _ClassVar[int]
    TURNOVER_FIELD_NUMBER: _ClassVar[int]
    TRADE_STATUS_FIELD_NUMBER: _ClassVar[int]
    WARRANT_EXTEND_FIELD_NUMBER: _ClassVar[int]
    symbol: str
    last_done: str
    prev_close: str
    open: str
    high: str
    low: str
    timestamp: int
    volume: int
    turnover: str
    trade_status: TradeStatus
    warrant_extend: WarrantExtend
    def __init__(self, symbol: _Optional[str] = ..., last_done: _Optional[str] = ..., prev_close: _Optional[str] = ..., open: _Optional[str] = ..., high: _Optional[str] = ..., low: _Optional[str] = ..., timestamp: _Optional[int] = ..., volume: _Optional[int] = ..., turnover: _Optional[str] = ..., trade_status: _Optional[_Union[TradeStatus, str]] = ..., warrant_extend: _Optional[_Union[WarrantExtend, _Mapping]] = ...) -> None: ...

class WarrantExtend(_message.Message):
    __slots__ = ("implied_volatility", "expiry_date", "last_trade_date", "outstanding_ratio", "outstanding_qty", "conversion_ratio", "category", "strike_price", "upper_strike_price", "lower_strike_price", "call_price", "underlying_symbol")
    IMPLIED_VOLATILITY_FIELD_NUMBER: _ClassVar[int]
    EXPIRY_DATE_FIELD_NUMBER: _ClassVar[int]
    LAST_TRADE_DATE_FIELD_NUMBER: _ClassVar[int]
    OUTSTANDING_RATIO_FIELD_NUMBER: _ClassVar[int]
    OUTSTANDING_QTY_FIELD_NUMBER: _ClassVar[int]
    CONVERSION_RATIO_FIELD_NUMBER: _ClassVar[int]
    CATEGORY_FIELD_NUMBER: _ClassVar[int]
    STRIKE_PRICE_FIELD_NUMBER: _ClassVar[int]
    UPPER_STRIKE_PRICE_FIELD_NUMBER: _ClassVar[int]
    LOWER_STRIKE_PRICE_FIELD_NUMBER: _ClassVar[int]
    CALL_PRICE_FIELD_NUMBER: _ClassVar[int]
    UNDERLYING_SYMBOL_FIELD_NUMBER: _ClassVar[int]
    implied_volatility: str
    expiry_date: str
    last_trade_date: str
    outstanding_ratio: str
    outstanding_qty: int
    conversion_ratio: str
    category: str
    strike_price: str
    upper_strike_price: str
    lower_strike_price: str
    call_price: str
    underlying_symbol: str
    def __init__(self, implied_volatility: _Optional[str] = ..., expiry_date: _Optional[str] = ..., last_trade_date: _Optional[str] = ..., outstanding_ratio: _Optional[str] = ..., outstanding_qty: _Optional[int] = ..., conversion_ratio: _Optional[str] = ..., category: _Optional[str] = ..., strike_price: _Optional[str] = ..., upper_strike_price: _Optional[str] = ..., lower_strike_price: _Optional[str] = ..., call_price: _Optional[str] = ..., underlying_symbol: _Optional[str] = ...) -> None: ...

class SecurityDepthResponse(_message.Message):
    __slots__ = ("symbol", "ask", "bid")
    SYMBOL_FIELD_NUMBER: _ClassVar[int]
    ASK_FIELD_NUMBER: _ClassVar[int]
    BID_FIELD_NUMBER: _ClassVar[int]
    symbol: str
    ask: _containers.RepeatedCompositeFieldContainer[Depth]
    bid: _containers.RepeatedCompositeFieldContainer[Depth]
    def __init__(self, symbol: _Optional[str] = ..., ask: _Optional[_Iterable[_Union[Depth, _Mapping]]] = ..., bid: _Optional[_Iterable[_Union[Depth, _Mapping]]] = ...) -> None: ...

class Depth(_message.Message):
    __slots__ = ("position", "price", "volume", "order_num")
    POSITION_FIELD_NUMBER: _ClassVar[int]
    PRICE_FIELD_NUMBER: _ClassVar[int]
    VOLUME_FIELD_NUMBER: _ClassVar[int]
    ORDER_NUM_FIELD_NUMBER: _ClassVar[int]
    position: int
    price: str
    volume: int
    order_num: int
    def __init__(self, position: _Optional[int] = ..., price: _Optional[str] = ..., volume: _Optional[int] = ..., order_num: _Optional[int] = ...) -> None: ...

class SecurityBrokersResponse(_message.Message):
    __slots__ = ("symbol", "ask_brokers", "bid_brokers")
    SYMBOL_FIELD_NUMBER: _ClassVar[int]
    ASK_BROKERS_FIELD_NUMBER: _ClassVar[int]
    BID_BROKERS_FIELD_NUMBER: _ClassVar[int]
    symbol: str
    ask_brokers: _containers.RepeatedCompositeFieldContainer[Brokers]
    bid_brokers: _containers.RepeatedCompositeFieldContainer[Brokers]
    def __init__(self, symbol: _Optional[str] = ..., ask_brokers: _Optional[_Iterable[_Union[Brokers, _Mapping]]] = ..., bid_brokers: _Optional[_Iterable[_Union[Brokers, _Mapping]]] = ...) -> None: ...

class Brokers(_message.Message):
    __slots__ = ("position", "broker_ids")
    POSITION_FIELD_NUMBER: _ClassVar[int]
    BROKER_IDS_FIELD_NUMBER: _ClassVar[int]
    position: int
    broker_ids: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, position: _Optional[int] = ..., broker_ids: _Optional[_Iterable[int]] = ...) -> None: ...

class ParticipantBrokerIdsResponse(_message.Message):
    __slots__ = ("participant_broker_numbers",)
    PARTICIPANT_BROKER_NUMBERS_FIELD_NUMBER: _ClassVar[int]
    participant_broker_numbers: _containers.RepeatedCompositeFieldContainer[ParticipantInfo]
    def __init__(self, participant_broker_numbers: _Optional[_Iterable[_Union[ParticipantInfo, _Mapping]]] = ...) -> None: ...

class ParticipantInfo(_message.Message):
    __slots__ = ("broker_ids", "participant_name_cn", "participant_name_en", "participant_name_hk")
    BROKER_IDS_FIELD_NUMBER: _ClassVar[int]
    PARTICIPANT_NAME_CN_FIELD_NUMBER: _ClassVar[int]
    PARTICIPANT_NAME_EN_FIELD_NUMBER: _ClassVar[int]
    PARTICIPANT_NAME_HK_FIELD_NUMBER: _ClassVar[int]
    broker_ids: _containers.RepeatedScalarFieldContainer[int]
    participant_name_cn: str
    participant_name_en: str
    participant_name_hk: str
    def __init__(self, broker_ids: _Optional[_Iterable[int]] = ..., participant_name_cn: _Optional[str] = ..., participant_name_en: _Optional[str] = ..., participant_name_hk: _Optional[str] = ...) -> None: ...

class SecurityTradeRequest(_message.Message):
    __slots__ = ("symbol", "count")
    SYMBOL_FIELD_NUMBER: _ClassVar[int]
    COUNT_FIELD_NUMBER: _ClassVar[int]
    symbol: str
    count: int
    def __init__(self, symbol: _Optional[str] = ..., count: _Optional[int] = ...) -> None: ...

class SecurityTradeResponse(_message.Message):
    __slots__ = ("symbol", "trades")
    SYMBOL_FIELD_NUMBER: _ClassVar[int]
    TRADES_FIELD_NUMBER: _ClassVar[int]
    symbol: str
    trades: _containers.RepeatedCompositeFieldContainer[Trade]
    def __init__(self, symbol: _Optional[str] = ..., trades: _Optional[_Iterable[_Union[Trade, _Mapping]]] = ...) -> None: ...

class Trade(_message.Message):
    __slots__ = ("price", "volume", "timestamp", "trade_type", "direction", "trade_session")
    PRICE_FIELD_NUMBER: _ClassVar[int]
    VOLUME_FIELD_NUMBER: _ClassVar[int]
    TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    TRADE_TYPE_FIELD_NUMBER: _ClassVar[int]
    DIRECTION_FIELD_NUMBER: _ClassVar[int]
    TRADE_SESSION_FIELD_NUMBER: _ClassVar[int]
    price: str
    volume: int
    timestamp: int
    trade_type: str
    direction: int
    trade_session: TradeSession
    def __init__(self, price: _Optional[str] = ..., volume: _Optional[int] = ..., timestamp: _Optional[int] = ..., trade_type: _Optional[str] = ..., direction: _Optional[int] = ..., trade_session: _Optional[_Union[TradeSession, str]] = ...) -> None: ...

class SecurityIntradayRequest(_message.Message):
    __slots__ = ("symbol", "trade_session")
    SYMBOL_FIELD_NUMBER: _ClassVar[int]
    TRADE_SESSION_FIELD_NUMBER: _ClassVar[int]
    symbol: str
    trade_session: int
    def __init__(self, symbol: _Optional[str] = ..., trade_session: _Optional[int] = ...) -> None: ...

class SecurityIntradayResponse(_message.Message):
    __slots__ = ("symbol", "lines")
    SYMBOL_FIELD_NUMBER: _ClassVar[int]
    LINES_FIELD_NUMBER: _ClassVar[int]
    symbol: str
    lines: _containers.RepeatedCompositeFieldContainer[Line]
    def __init__(self, symbol: _Optional[str] = ..., lines: _Optional[_Iterable[_Union[Line, _Mapping]]] = ...) -> None: ...

class Line(_message.Message):
    __slots__ = ("price", "timestamp", "volume", "turnover", "avg_price")
    PRICE_FIELD_NUMBER: _ClassVar[int]
    TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    VOLUME_FIELD_NUMBER: _ClassVar[int]
    TURNOVER_FIELD_NUMBER: _ClassVar[int]
    AVG_PRICE_FIELD_NUMBER: _ClassVar[int]
    price: str
    timestamp: int
    volume: int
    turnover: str
    avg_price: str
    def __init__(self, price: _Optional[str] = ..., timestamp: _Optional[int] = ..., volume: _Optional[int] = ..., turnover: _Optional[str] = ..., avg_price: _Optional[str] = ...) -> None: ...

class SecurityCandlestickRequest(_message.Message):
    __slots__ = ("symbol", "period", "count", "adjust_type", "trade_session")
    SYMBOL_FIELD_NUMBER: _ClassVar[int]
    PERIOD_FIELD_NUMBER: _ClassVar[int]
    COUNT_FIELD_NUMBER: _ClassVar[int]
    ADJUST_TYPE_FIELD_NUMBER: _ClassVar[int]
    TRADE_SESSION_FIELD_NUMBER: _ClassVar[int]
    symbol: str
    period: Period
    count: int
    adjust_type: AdjustType
    trade_session: int
    def __init__(self, symbol: _Optional[str] = ..., period: _Optional[_Union[Period, str]] = ..., count: _Optional[int] = ..., adjust_type: _Optional[_Union[AdjustType, str]] = ..., trade_session: _Optional[int] = ...) -> None: ...

class SecurityCandlestickResponse(_message.Message):
    __slots__ = ("symbol", "candlesticks")
    SYMBOL_FIELD_NUMBER: _ClassVar[int]
    CANDLESTICKS_FIELD_NUMBER: _ClassVar[int]
    symbol: str
    candlesticks: _containers.RepeatedCompositeFieldContainer[Candlestick]
    def __init__(self, symbol: _Optional[str] = ..., candlesticks: _Optional[_Iterable[_Union[Candlestick, _Mapping]]] = ...) -> None: ...

class Candlestick(_message.Message):
    __slots__ = ("close", "open", "low", "high", "volume", "turnover", "timestamp", "trade_session")
    CLOSE_FIELD_NUMBER: _ClassVar[int]
    OPEN_FIELD_NUMBER: _ClassVar[int]
    LOW_FIELD_NUMBER: _ClassVar[int]
    HIGH_FIELD_NUMBER: _ClassVar[int]
    VOLUME_FIELD_NUMBER: _ClassVar[int]
    TURNOVER_FIELD_NUMBER: _ClassVar[int]
    TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    TRADE_SESSION_FIELD_NUMBER: _ClassVar[int]
    close: str
    open: str
    low: str
    high: str
    volume: int
    turnover: str
    timestamp: int
    trade_session: TradeSession
    def __init__(self, close: _Optional[str] = ..., open: _Optional[str] = ..., low: _Optional[str] = ..., high: _Optional[str] = ..., volume: _Optional[int] = ..., turnover: _Optional[str] = ..., timestamp: _Optional[int] = ..., trade_session: _Optional[_Union[TradeSession, str]] = ...) -> None: ...

class SecurityHistoryCandlestickRequest(_message.Message):
    __slots__ = ("symbol", "period", "adjust_type", "query_type", "offset_request", "date_request", "trade_session")
    class OffsetQuery(_message.Message):
        __slots__ = ("direction", "date", "minute", "count")
        DIRECTION_FIELD_NUMBER: _ClassVar[int]
        DATE_FIELD_NUMBER: _ClassVar[int]
        MINUTE_FIELD_NUMBER: _ClassVar[int]
        COUNT_FIELD_NUMBER: _ClassVar[int]
        direction: Direction
        date: str
        minute: str
        count: int
        def __init__(self, direction: _Optional[_Union[Direction, str]] = ..., date: _Optional[str] = ..., minute: _Optional[str] = ..., count: _Optional[int] = ...) -> None: ...
    class DateQuery(_message.Message):
        __slots__ = ("start_date", "end_date")
        START_DATE_FIELD_NUMBER: _ClassVar[int]
        END_DATE_FIELD_NUMBER: _ClassVar[int]
        start_date: str
        end_date: str
        def __init__(self, start_date: _Optional[str] = ..., end_date: _Optional[str] = ...) -> None: ...
    SYMBOL_FIELD_NUMBER: _ClassVar[int]
    PERIOD_FIELD_NUMBER: _ClassVar[int]
    ADJUST_TYPE_FIELD_NUMBER: _ClassVar[int]
    QUERY_TYPE_FIELD_NUMBER: _ClassVar[int]
    OFFSET_REQUEST_FIELD_NUMBER: _ClassVar[int]
    DATE_REQUEST_FIELD_NUMBER: _ClassVar[int]
    TRADE_SESSION_FIELD_NUMBER: _ClassVar[int]
    symbol: str
    period: Period
    adjust_type: AdjustType
    query_type: HistoryCandlestickQueryType
    offset_request: SecurityHistoryCandlestickRequest.OffsetQuery
    date_request: SecurityHistoryCandlestickRequest.DateQuery
    trade_session: int
    def __init__(self, symbol: _Optional[str] = ..., period: _Optional[_Union[Period, str]] = ..., adjust_type: _Optional[_Union[AdjustType, str]] = ..., query_type: _Optional[_Union[HistoryCandlestickQueryType, str]] = ..., offset_request: _Optional[_Union[SecurityHistoryCandlestickRequest.OffsetQuery, _Mapping]] = ..., date_request: _Optional[_Union[SecurityHistoryCandlestickRequest.DateQuery, _Mapping]] = ..., trade_session: _Optional[int] = ...) -> None: ...

class OptionChainDateListResponse(_message.Message):
    __slots__ = ("expiry_date",)
    EXPIRY_DATE_FIELD_NUMBER: _ClassVar[int]
    expiry_date: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, expiry_date: _Optional[_Iterable[str]] = ...) -> None: ...

class OptionChainDateStrikeInfoRequest(_message.Message):
    __slots__ = ("symbol", "expiry_date")
    SYMBOL_FIELD_NUMBER: _ClassVar[int]
    EXPIRY_DATE_FIELD_NUMBER: _ClassVar[int]
    symbol: str
    expiry_date: str
    def __init__(self, symbol: _Optional[str] = ..., expiry_date: _Optional[str] = ...) -> None: ...

class OptionChainDateStrikeInfoResponse(_message.Message):
    __slots__ = ("strike_price_info",)
    STRIKE_PRICE_INFO_FIELD_NUMBER: _ClassVar[int]
    strike_price_info: _containers.RepeatedCompositeFieldContainer[StrikePriceInfo]
    def __init__(self, strike_price_info: _Optional[_Iterable[_Union[StrikePriceInfo, _Mapping]]] = ...) -> None: ...

class StrikePriceInfo(_message.Message):
    __slots__ = ("price", "call_symbol", "put_symbol", "standard")
    PRICE_FIELD_NUMBER: _ClassVar[int]
    CALL_SYMBOL_FIELD_NUMBER: _ClassVar[int]
    PUT_SYMBOL_FIELD_NUMBER: _ClassVar[int]
    STANDARD_FIELD_NUMBER: _ClassVar[int]
    price: str
    call_symbol: str
    put_symbol: str
    standard: bool
    def __init__(self, price: _Optional[str] = ..., call_symbol: _Optional[str] = ..., put_symbol: _Optional[str] = ..., standard: _Optional[bool] = ...) -> None: ...

class IssuerInfoResponse(_message.Message):
    __slots__ = ("issuer_info",)
    ISSUER_INFO_FIELD_NUMBER: _ClassVar[int]
    issuer_info: _containers.RepeatedCompositeFieldContainer[IssuerInfo]
    def __init__(self, issuer_info: _Optional[_Iterable[_Union[IssuerInfo, _Mapping]]] = ...) -> None: ...

class IssuerInfo(_message.Message):
    __slots__ = ("id", "name_cn", "name_en", "name_hk")
    ID_FIELD_NUMBER: _ClassVar[int]
    NAME_CN_FIELD_NUMBER: _ClassVar[int]
    NAME_EN_FIELD_NUMBER: _ClassVar[int]
    NAME_HK_FIELD_NUMBER: _ClassVar[int]
    id: int
    name_cn: str
    name_en: str
    name_hk: str
    def __init__(self, id: _Optional[int] = ..., name_cn: _Optional[str] = ..., name_en: _Optional[str] = ..., name_hk: _Optional[str] = ...) -> None: ...

class WarrantFilterListRequest(_message.Message):
    __slots__ = ("symbol", "filter_config", "language")
    SYMBOL_FIELD_NUMBER: _ClassVar[int]
    FILTER_CONFIG_FIELD_NUMBER: _ClassVar[int]
    LANGUAGE_FIELD_NUMBER: _ClassVar[int]
    symbol: str
    filter_config: FilterConfig
    language: int
    def __init__(self, symbol: _Optional[str] = ..., filter_config: _Optional[_Union[FilterConfig, _Mapping]] = ..., language: _Optional[int] = ...) -> None: ...

class FilterConfig(_message.Message):
    __slots__ = ("sort_by", "sort_order", "sort_offset", "sort_count", "type", "issuer", "expiry_date", "price_type", "status")
    SORT_BY_FIELD_NUMBER: _ClassVar[int]
    SORT_ORDER_FIELD_NUMBER: _ClassVar[int]
    SORT_OFFSET_FIELD_NUMBER: _ClassVar[int]
    SORT_COUNT_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    ISSUER_FIELD_NUMBER: _ClassVar[int]
    EXPIRY_DATE_FIELD_NUMBER: _ClassVar[int]
    PRICE_TYPE_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    sort_by: int
    sort_order: int
    sort_offset: int
    sort_count: int
    type: _containers.RepeatedScalarFieldContainer[int]
    issuer: _containers.RepeatedScalarFieldContainer[int]
    expiry_date: _containers.RepeatedScalarFieldContainer[int]
    price_type: _containers.RepeatedScalarFieldContainer[int]
    status: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, sort_by: _Optional[int] = ..., sort_order: _Optional[int] = ..., sort_offset: _Optional[int] = ..., sort_count: _Optional[int] = ..., type: _Optional[_Iterable[int]] = ..., issuer: _Optional[_Iterable[int]] = ..., expiry_date: _Optional[_Iterable[int]] = ..., price_type: _Optional[_Iterable[int]] = ..., status: _Optional[_Iterable[int]] = ...) -> None: ...

class WarrantFilterListResponse(_message.Message):
    __slots__ = ("warrant_list", "total_count")
    WARRANT_LIST_FIELD_NUMBER: _ClassVar[int]
    TOTAL_COUNT_FIELD_NUMBER: _ClassVar[int]
    warrant_list: _containers.RepeatedCompositeFieldContainer[FilterWarrant]
    total_count: int
    def __init__(self, warrant_list: _Optional[_Iterable[_Union[FilterWarrant, _Mapping]]] = ..., total_count: _Optional[int] = ...) -> None: ...

class FilterWarrant(_message.Message):
    __slots__ = ("symbol", "name", "last_done", "change_rate", "change_val", "volume", "turnover", "expiry_date", "strike_price", "upper_strike_price", "lower_strike_price", "outstanding_qty", "outstanding_ratio", "premium", "itm_otm", "implied_volatility", "delta", "call_price", "to_call_price", "effective_leverage", "leverage_ratio", "conversion_ratio", "balance_point", "status", "type")
    SYMBOL_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    LAST_DONE_FIELD_NUMBER: _ClassVar[int]
    CHANGE_RATE_FIELD_NUMBER: _ClassVar[int]
    CHANGE_VAL_FIELD_NUMBER: _ClassVar[int]
    VOLUME_FIELD_NUMBER: _ClassVar[int]
    TURNOVER_FIELD_NUMBER: _ClassVar[int]
    EXPIRY_DATE_FIELD_NUMBER: _ClassVar[int]
    STRIKE_PRICE_FIELD_NUMBER: _ClassVar[int]
    UPPER_STRIKE_PRICE_FIELD_NUMBER: _ClassVar[int]
    LOWER_STRIKE_PRICE_FIELD_NUMBER: _ClassVar[int]
    OUTSTANDING_QTY_FIELD_NUMBER: _ClassVar[int]
    OUTSTANDING_RATIO_FIELD_NUMBER: _ClassVar[int]
    PREMIUM_FIELD_NUMBER: _ClassVar[int]
    ITM_OTM_FIELD_NUMBER: _ClassVar[int]
    IMPLIED_VOLATILITY_FIELD_NUMBER: _ClassVar[int]
    DELTA_FIELD_NUMBER: _ClassVar[int]
    CALL_PRICE_FIELD_NUMBER: _ClassVar[int]
    TO_CALL_PRICE_FIELD_NUMBER: _ClassVar[int]
    EFFECTIVE_LEVERAGE_FIELD_NUMBER: _ClassVar[int]
    LEVERAGE_RATIO_FIELD_NUMBER: _ClassVar[int]
    CONVERSION_RATIO_FIELD_NUMBER: _ClassVar[int]
    BALANCE_POINT_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    symbol: str
    name: str
    last_done: str
    change_rate: str
    change_val: str
    volume: int
    turnover: str
    expiry_date: str
    strike_price: str
    upper_strike_price: str
    lower_strike_price: str
    outstanding_qty: str
    outstanding_ratio: str
    premium: str
    itm_otm: str
    implied_volatility: str
    delta: str
    call_price: str
    to_call_price: str
    effective_leverage: str
    leverage_ratio: str
    conversion_ratio: str
    balance_point: str
    status: int
    type: int
    def __init__(self, symbol: _Optional[str] = ..., name: _Optional[str] = ..., last_done: _Optional[str] = ..., change_rate: _Optional[str] = ..., change_val: _Optional[str] = ..., volume: _Optional[int] = ..., turnover: _Optional[str] = ..., expiry_date: _Optional[str] = ..., strike_price: _Optional[str] = ..., upper_strike_price: _Optional[str] = ..., lower_strike_price: _Optional[str] = ..., outstanding_qty: _Optional[str] = ..., outstanding_ratio: _Optional[str] = ..., premium: _Optional[str] = ..., itm_otm: _Optional[str] = ..., implied_volatility: _Optional[str] = ..., delta: _Optional[str] = ..., call_price: _Optional[str] = ..., to_call_price: _Optional[str] = ..., effective_leverage: _Optional[str] = ..., leverage_ratio: _Optional[str] = ..., conversion_ratio: _Optional[str] = ..., balance_point: _Optional[str] = ..., status: _Optional[int] = ..., type: _Optional[int] = ...) -> None: ...

class MarketTradePeriodResponse(_message.Message):
    __slots__ = ("market_trade_session",)
    MARKET_TRADE_SESSION_FIELD_NUMBER: _ClassVar[int]
    market_trade_session: _containers.RepeatedCompositeFieldContainer[MarketTradePeriod]
    def __init__(self, market_trade_session: _Optional[_Iterable[_Union[MarketTradePeriod, _Mapping]]] = ...) -> None: ...

class MarketTradePeriod(_message.Message):
    __slots__ = ("market", "trade_session")
    MARKET_FIELD_NUMBER: _ClassVar[int]
    TRADE_SESSION_FIELD_NUMBER: _ClassVar[int]
    market: str
    trade_session: _containers.RepeatedCompositeFieldContainer[TradePeriod]
    def __init__(self, market: _Optional[str] = ..., trade_session: _Optional[_Iterable[_Union[TradePeriod, _Mapping]]] = ...) -> None: ...

class TradePeriod(_message.Message):
    __slots__ = ("beg_time", "end_time", "trade_session")
    BEG_TIME_FIELD_NUMBER: _ClassVar[int]
    END_TIME_FIELD_NUMBER: _ClassVar[int]
    TRADE_SESSION_FIELD_NUMBER: _ClassVar[int]
    beg_time: int
    end_time: int
    trade_session: TradeSession
    def __init__(self, beg_time: _Optional[int] = ..., end_time: _Optional[int] = ..., trade_session: _Optional[_Union[TradeSession, str]] = ...) -> None: ...

class MarketTradeDayRequest(_message.Message):
    __slots__ = ("market", "beg_day", "end_day")
    MARKET_FIELD_NUMBER: _ClassVar[int]
    BEG_DAY_FIELD_NUMBER: _ClassVar[int]
    END_DAY_FIELD_NUMBER: _ClassVar[int]
    market: str
    beg_day: str
    end_day: str
    def __init__(self, market: _Optional[str] = ..., beg_day: _Optional[str] = ..., end_day: _Optional[str] = ...) -> None: ...

class MarketTradeDayResponse(_message.Message):
    __slots__ = ("trade_day", "half_trade_day")
    TRADE_DAY_FIELD_NUMBER: _ClassVar[int]
    HALF_TRADE_DAY_FIELD_NUMBER: _ClassVar[int]
    trade_day: _containers.RepeatedScalarFieldContainer[str]
    half_trade_day: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, trade_day: _Optional[_Iterable[str]] = ..., half_trade_day: _Optional[_Iterable[str]] = ...) -> None: ...

class SubscriptionRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class SubscriptionResponse(_message.Message):
    __slots__ = ("sub_list",)
    SUB_LIST_FIELD_NUMBER: _ClassVar[int]
    sub_list: _containers.RepeatedCompositeFieldContainer[SubTypeList]
    def __init__(self, sub_list: _Optional[_Iterable[_Union[SubTypeList, _Mapping]]] = ...) -> None: ...

class SubTypeList(_message.Message):
    __slots__ = ("symbol", "sub_type")
    SYMBOL_FIELD_NUMBER: _ClassVar[int]
    SUB_TYPE_FIELD_NUMBER: _ClassVar[int]
    symbol: str
    sub_type: _containers.RepeatedScalarFieldContainer[SubType]
    def __init__(self, symbol: _Optional[str] = ..., sub_type: _Optional[_Iterable[_Union[SubType, str]]] = ...) -> None: ...

class SubscribeRequest(_message.Message):
    __slots__ = ("symbol", "sub_type", "is_first_push")
    SYMBOL_FIELD_NUMBER: _ClassVar[int]
    SUB_TYPE_FIELD_NUMBER: _ClassVar[int]
    IS_FIRST_PUSH_FIELD_NUMBER: _ClassVar[int]
    symbol: _containers.RepeatedScalarFieldContainer[str]
    sub_type: _containers.RepeatedScalarFieldContainer[SubType]
    is_first_push: bool
    def __init__(self, symbol: _Optional[_Iterable[str]] = ..., sub_type: _Optional[_Iterable[_Union[SubType, str]]] = ..., is_first_push: _Optional[bool] = ...) -> None: ...

class UnsubscribeRequest(_message.Message):
    __slots__ = ("symbol", "sub_type", "unsub_all")
    SYMBOL_FIELD_NUMBER: _ClassVar[int]
    SUB_TYPE_FIELD_NUMBER: _ClassVar[int]
    UNSUB_ALL_FIELD_NUMBER: _ClassVar[int]
    symbol: _containers.RepeatedScalarFieldContainer[str]
    sub_type: _containers.RepeatedScalarFieldContainer[SubType]
    unsub_all: bool
    def __init__(self, symbol: _Optional[_Iterable[str]] = ..., sub_type: _Optional[_Iterable[_Union[SubType, str]]] = ..., unsub_all: _Optional[bool] = ...) -> None: ...

class UnsubscribeResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class PushQuote(_message.Message):
    __slots__ = ("symbol", "sequence", "last_done", "open", "high", "low", "timestamp", "volume", "turnover", "trade_status", "trade_session", "current_volume", "current_turnover", "tag")
    SYMBOL_FIELD_NUMBER: _ClassVar[int]
    SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    LAST_DONE_FIELD_NUMBER: _ClassVar[int]
    OPEN_FIELD_NUMBER: _ClassVar[int]
    HIGH_FIELD_NUMBER: _ClassVar[int]
    LOW_FIELD_NUMBER: _ClassVar[int]
    TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    VOLUME_FIELD_NUMBER: _ClassVar[int]
    TURNOVER_FIELD_NUMBER: _ClassVar[int]
    TRADE_STATUS_FIELD_NUMBER: _ClassVar[int]
    TRADE_SESSION_FIELD_NUMBER: _ClassVar[int]
    CURRENT_VOLUME_FIELD_NUMBER: _ClassVar[int]
    CURRENT_TURNOVER_FIELD_NUMBER: _ClassVar[int]
    TAG_FIELD_NUMBER: _ClassVar[int]
    symbol: str
    sequence: int
    last_done: str
    open: str
    high: str
    low: str
    timestamp: int
    volume: int
    turnover: str
    trade_status: TradeStatus
    trade_session: TradeSession
    current_volume: int
    current_turnover: str
    tag: PushQuoteTag
    def __init__(self, symbol: _Optional[str] = ..., sequence: _Optional[int] = ..., last_done: _Optional[str] = ..., open: _Optional[str] = ..., high: _Optional[str] = ..., low: _Optional[str] = ..., timestamp: _Optional[int] = ..., volume: _Optional[int] = ..., turnover: _Optional[str] = ..., trade_status: _Optional[_Union[TradeStatus, str]] = ..., trade_session: _Optional[_Union[TradeSession, str]] = ..., current_volume: _Optional[int] = ..., current_turnover: _Optional[str] = ..., tag: _Optional[_Union[PushQuoteTag, str]] = ...) -> None: ...

class PushDepth(_message.Message):
    __slots__ = ("symbol", "sequence", "ask", "bid")
    SYMBOL_FIELD_NUMBER: _ClassVar[int]
    SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    ASK_FIELD_NUMBER: _ClassVar[int]
    BID_FIELD_NUMBER: _ClassVar[int]
    symbol: str
    sequence: int
    ask: _containers.RepeatedCompositeFieldContainer[Depth]
    bid: _containers.RepeatedCompositeFieldContainer[Depth]
    def __init__(self, symbol: _Optional[str] = ..., sequence: _Optional[int] = ..., ask: _Optional[_Iterable[_Union[Depth, _Mapping]]] = ..., bid: _Optional[_Iterable[_Union[Depth, _Mapping]]] = ...) -> None: ...

class PushBrokers(_message.Message):
    __slots__ = ("symbol", "sequence", "ask_brokers", "bid_brokers")
    SYMBOL_FIELD_NUMBER: _ClassVar[int]
    SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    ASK_BROKERS_FIELD_NUMBER: _ClassVar[int]
    BID_BROKERS_FIELD_NUMBER: _ClassVar[int]
    symbol: str
    sequence: int
    ask_brokers: _containers.RepeatedCompositeFieldContainer[Brokers]
    bid_brokers: _containers.RepeatedCompositeFieldContainer[Brokers]
    def __init__(self, symbol: _Optional[str] = ..., sequence: _Optional[int] = ..., ask_brokers: _Optional[_Iterable[_Union[Brokers, _Mapping]]] = ..., bid_brokers: _Optional[_Iterable[_Union[Brokers, _Mapping]]] = ...) -> None: ...

class PushTrade(_message.Message):
    __slots__ = ("symbol", "sequence", "trade")
    SYMBOL_FIELD_NUMBER: _ClassVar[int]
    SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    TRADE_FIELD_NUMBER: _ClassVar[int]
    symbol: str
    sequence: int
    trade: _containers.RepeatedCompositeFieldContainer[Trade]
    def __init__(self, symbol: _Optional[str] = ..., sequence: _Optional[int] = ..., trade: _Optional[_Iterable[_Union[Trade, _Mapping]]] = ...) -> None: ...

class CapitalFlowIntradayRequest(_message.Message):
    __slots__ = ("symbol",)
    SYMBOL_FIELD_NUMBER: _ClassVar[int]
    symbol: str
    def __init__(self, symbol: _Optional[str] = ...) -> None: ...

class CapitalFlowIntradayResponse(_message.Message):
    __slots__ = ("symbol", "capital_flow_lines")
    class CapitalFlowLine(_message.Message):
        __slots__ = ("inflow", "timestamp")
        INFLOW_FIELD_NUMBER: _ClassVar[int]
        TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
        inflow: str
        timestamp: int
        def __init__(self, inflow: _Optional[str] = ..., timestamp: _Optional[int] = ...) -> None: ...
    SYMBOL_FIELD_NUMBER: _ClassVar[int]
    CAPITAL_FLOW_LINES_FIELD_NUMBER: _ClassVar[int]
    symbol: str
    capital_flow_lines: _containers.RepeatedCompositeFieldContainer[CapitalFlowIntradayResponse.CapitalFlowLine]
    def __init__(self, symbol: _Optional[str] = ..., capital_flow_lines: _Optional[_Iterable[_Union[CapitalFlowIntradayResponse.CapitalFlowLine, _Mapping]]] = ...) -> None: ...

class CapitalDistributionResponse(_message.Message):
    __slots__ = ("symbol", "timestamp", "capital_in", "capital_out")
    class CapitalDistribution(_message.Message):
        __slots__ = ("large", "medium", "small")
        LARGE_FIELD_NUMBER: _ClassVar[int]
        MEDIUM_FIELD_NUMBER: _ClassVar[int]
        SMALL_FIELD_NUMBER: _ClassVar[int]
        large: str
        medium: str
        small: str
        def __init__(self, large: _Optional[str] = ..., medium: _Optional[str] = ..., small: _Optional[str] = ...) -> None: ...
    SYMBOL_FIELD_NUMBER: _ClassVar[int]
    TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    CAPITAL_IN_FIELD_NUMBER: _ClassVar[int]
    CAPITAL_OUT_FIELD_NUMBER: _ClassVar[int]
    symbol: str
    timestamp: int
    capital_in: CapitalDistributionResponse.CapitalDistribution
    capital_out: CapitalDistributionResponse.CapitalDistribution
    def __init__(self, symbol: _Optional[str] = ..., timestamp: _Optional[int] = ..., capital_in: _Optional[_Union[CapitalDistributionResponse.CapitalDistribution, _Mapping]] = ..., capital_out: _Optional[_Union[CapitalDistributionResponse.CapitalDistribution, _Mapping]] = ...) -> None: ...

class SecurityCalcQuoteRequest(_message.Message):
    __slots__ = ("symbols", "calc_index")
    SYMBOLS_FIELD_NUMBER: _ClassVar[int]
    CALC_INDEX_FIELD_NUMBER: _ClassVar[int]
    symbols: _containers.RepeatedScalarFieldContainer[str]
    calc_index: _containers.RepeatedScalarFieldContainer[CalcIndex]
    def __init__(self, symbols: _Optional[_Iterable[str]] = ..., calc_index: _Optional[_Iterable[_Union[CalcIndex, str]]] = ...) -> None: ...

class SecurityCalcQuoteResponse(_message.Message):
    __slots__ = ("security_calc_index",)
    SECURITY_CALC_INDEX_FIELD_NUMBER: _ClassVar[int]
    security_calc_index: _containers.RepeatedCompositeFieldContainer[SecurityCalcIndex]
    def __init__(self, security_calc_index: _Optional[_Iterable[_Union[SecurityCalcIndex, _Mapping]]] = ...) -> None: ...

class SecurityCalcIndex(_message.Message):
    __slots__ = ("symbol", "last_done", "change_val", "change_rate", "volume", "turnover", "ytd_change_rate", "turnover_rate", "total_market_value", "capital_flow", "amplitude", "volume_ratio", "pe_ttm_ratio", "pb_ratio", "dividend_ratio_ttm", "five_day_change_rate", "ten_day_change_rate", "half_year_change_rate", "five_minutes_change_rate", "expiry_date", "strike_price", "upper_strike_price", "lower_strike_price", "outstanding_qty", "outstanding_ratio", "premium", "itm_otm", "implied_volatility", "warrant_delta", "call_price", "to_call_price", "effective_leverage", "leverage_ratio", "conversion_ratio", "balance_point", "open_interest", "delta", "gamma", "theta", "vega", "rho")
    SYMBOL_FIELD_NUMBER: _ClassVar[int]
    LAST_DONE_FIELD_NUMBER: _ClassVar[int]
    CHANGE_VAL_FIELD_NUMBER: _ClassVar[int]
    CHANGE_RATE_FIELD_NUMBER: _ClassVar[int]
    VOLUME_FIELD_NUMBER: _ClassVar[int]
    TURNOVER_FIELD_NUMBER: _ClassVar[int]
    YTD_CHANGE_RATE_FIELD_NUMBER: _ClassVar[int]
    TURNOVER_RATE_FIELD_NUMBER: _ClassVar[int]
    TOTAL_MARKET_VALUE_FIELD_NUMBER: _ClassVar[int]
    CAPITAL_FLOW_FIELD_NUMBER: _ClassVar[int]
    AMPLITUDE_FIELD_NUMBER: _ClassVar[int]
    VOLUME_RATIO_FIELD_NUMBER: _ClassVar[int]
    PE_TTM_RATIO_FIELD_NUMBER: _ClassVar[int]
    PB_RATIO_FIELD_NUMBER: _ClassVar[int]
    DIVIDEND_RATIO_TTM_FIELD_NUMBER: _ClassVar[int]
    FIVE_DAY_CHANGE_RATE_FIELD_NUMBER: _ClassVar[int]
    TEN_DAY_CHANGE_RATE_FIELD_NUMBER: _ClassVar[int]
    HALF_YEAR_CHANGE_RATE_FIELD_NUMBER: _ClassVar[int]
    FIVE_MINUTES_CHANGE_RATE_FIELD_NUMBER: _ClassVar[int]
    EXPIRY_DATE_FIELD_NUMBER: _ClassVar[int]
    STRIKE_PRICE_FIELD_NUMBER: _ClassVar[int]
    UPPER_STRIKE_PRICE_FIELD_NUMBER: _ClassVar[int]
    LOWER_STRIKE_PRICE_FIELD_NUMBER: _ClassVar[int]
    OUTSTANDING_QTY_FIELD_NUMBER: _ClassVar[int]
    OUTSTANDING_RATIO_FIELD_NUMBER: _ClassVar[int]
    PREMIUM_FIELD_NUMBER: _ClassVar[int]
    ITM_OTM_FIELD_NUMBER: _ClassVar[int]
    IMPLIED_VOLATILITY_FIELD_NUMBER: _ClassVar[int]
    WARRANT_DELTA_FIELD_NUMBER: _ClassVar[int]
    CALL_PRICE_FIELD_NUMBER: _ClassVar[int]
    TO_CALL_PRICE_FIELD_NUMBER: _ClassVar[int]
    EFFECTIVE_LEVERAGE_FIELD_NUMBER: _ClassVar[int]
    LEVERAGE_RATIO_FIELD_NUMBER: _ClassVar[int]
    CONVERSION_RATIO_FIELD_NUMBER: _ClassVar[int]
    BALANCE_POINT_FIELD_NUMBER: _ClassVar[int]
    OPEN_INTEREST_FIELD_NUMBER: _ClassVar[int]
    DELTA_FIELD_NUMBER: _ClassVar[int]
    GAMMA_FIELD_NUMBER: _ClassVar[int]
    THETA_FIELD_NUMBER: _ClassVar[int]
    VEGA_FIELD_NUMBER: _ClassVar[int]
    RHO_FIELD_NUMBER: _ClassVar[int]
    symbol: str
    last_done: str
    change_val: str
    change_rate: str
    volume: int
    turnover: str
    ytd_change_rate: str
    turnover_rate: str
    total_market_value: str
    capital_flow: str
    amplitude: str
    volume_ratio: str
    pe_ttm_ratio: str
    pb_ratio: str
    dividend_ratio_ttm: str
    five_day_change_rate: str
    ten_day_change_rate: str
    half_year_change_rate: str
    five_minutes_change_rate: str
    expiry_date: str
    strike_price: str
    upper_strike_price: str
    lower_strike_price: str
    outstanding_qty: int
    outstanding_ratio: str
    premium: str
    itm_otm: str
    implied_volatility: str
    warrant_delta: str
    call_price: str
    to_call_price: str
    effective_leverage: str
    leverage_ratio: str
    conversion_ratio: str
    balance_point: str
    open_interest: int
    delta: str
    gamma: str
    theta: str
    vega: str
    rho: str
    def __init__(self, symbol: _Optional[str] = ..., last_done: _Optional[str] = ..., change_val: _Optional[str] = ..., change_rate: _Optional[str] = ..., volume: _Optional[int] = ..., turnover: _Optional[str] = ..., ytd_change_rate: _Optional[str] = ..., turnover_rate: _Optional[str] = ..., total_market_value: _Optional[str] = ..., capital_flow: _Optional[str] = ..., amplitude: _Optional[str] = ..., volume_ratio: _Optional[str] = ..., pe_ttm_ratio: _Optional[str] = ..., pb_ratio: _Optional[str] = ..., dividend_ratio_ttm: _Optional[str] = ..., five_day_change_rate: _Optional[str] = ..., ten_day_change_rate: _Optional[str] = ..., half_year_change_rate: _Optional[str] = ..., five_minutes_change_rate: _Optional[str] = ..., expiry_date: _Optional[str] = ..., strike_price: _Optional[str] = ..., upper_strike_price: _Optional[str] = ..., lower_strike_price: _Optional[str] = ..., outstanding_qty: _Optional[int] = ..., outstanding_ratio: _Optional[str] = ..., premium: _Optional[str] = ..., itm_otm: _Optional[str] = ..., implied_volatility: _Optional[str] = ..., warrant_delta: _Optional[str] = ..., call_price: _Optional[str] = ..., to_call_price: _Optional[str] = ..., effective_leverage: _Optional[str] = ..., leverage_ratio: _Optional[str] = ..., conversion_ratio: _Optional[str] = ..., balance_point: _Optional[str] = ..., open_interest: _Optional[int] = ..., delta: _Optional[str] = ..., gamma: _Optional[str] = ..., theta: _Optional[str] = ..., vega: _Optional[str] = ..., rho: _Optional[str] = ...) -> None: ...
