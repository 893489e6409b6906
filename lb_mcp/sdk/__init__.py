"""SDK-style async core speaking the Longbridge OpenAPI wire protocol.

The cheap, dependency-free names (config, enums, errors) are imported eagerly; everything that
pulls in httpx, websockets, protobuf or many pydantic models is imported on first attribute
access (PEP 562), so ``from lb_mcp.sdk.config import Config`` does not load the network stack.
``from lb_mcp.sdk import QuoteContext`` works as before.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from .config import Config, ConfigError, Language, PushCandlestickMode
from .enums import (
    AdjustType,
    BalanceType,
    CashFlowDirection,
    Market,
    OrderSide,
    OrderStatus,
    OrderTag,
    OrderType,
    OutsideRTH,
    Period,
    SubType,
    TimeInForceType,
    TopicType,
    TradeDirection,
    TradeSession,
    TradeSessions,
    TradeStatus,
    TriggerStatus,
)
from .errors import (
    ApiError,
    AuthError,
    ConnectionClosed,
    ErrorKind,
    HttpError,
    InvalidArgument,
    OpenApiException,
    OrderError,
    ProtocolError,
    RateLimitError,
    RequestTimeout,
)

if TYPE_CHECKING:
    from .http import HttpClient
    from .models import (
        AccountBalance,
        CashFlow,
        CashInfo,
        EstimateMaxPurchaseQuantityResponse,
        Execution,
        FrozenTransactionFee,
        FundPosition,
        FundPositionChannel,
        FundPositionsResponse,
        MarginRatio,
        Order,
        OrderChargeDetail,
        OrderDetail,
        OrderHistoryDetail,
        PushOrderChanged,
        StockPosition,
        StockPositionChannel,
        StockPositionsResponse,
        SubmitOrderResponse,
    )
    from .pushes import PushBuffer
    from .quote import QuoteContext, QuotePush
    from .quote_models import (
        Brokers,
        Candlestick,
        Depth,
        IntradayLine,
        MarketTradingDays,
        MarketTradingSession,
        PrePostQuote,
        PushBrokers,
        PushDepth,
        PushQuote,
        PushTrades,
        SecurityBrokers,
        SecurityDepth,
        SecurityQuote,
        SecurityStaticInfo,
        Subscription,
        Trade,
        TradingSessionInfo,
    )
    from .ratelimit import RateLimiter
    from .trade import TradeContext
    from .ws import ConnectionLimitError, ConnectionState, Liveness, WsOptions

# Public name -> submodule that defines it, for the names imported on first use.
_LAZY: dict[str, str] = {
    "AccountBalance": "models",
    "Brokers": "quote_models",
    "Candlestick": "quote_models",
    "CashFlow": "models",
    "CashInfo": "models",
    "ConnectionLimitError": "ws",
    "ConnectionState": "ws",
    "Depth": "quote_models",
    "EstimateMaxPurchaseQuantityResponse": "models",
    "Execution": "models",
    "FrozenTransactionFee": "models",
    "FundPosition": "models",
    "FundPositionChannel": "models",
    "FundPositionsResponse": "models",
    "HttpClient": "http",
    "IntradayLine": "quote_models",
    "Liveness": "ws",
    "MarginRatio": "models",
    "MarketTradingDays": "quote_models",
    "MarketTradingSession": "quote_models",
    "Order": "models",
    "OrderChargeDetail": "models",
    "OrderDetail": "models",
    "OrderHistoryDetail": "models",
    "PrePostQuote": "quote_models",
    "PushBrokers": "quote_models",
    "PushBuffer": "pushes",
    "PushDepth": "quote_models",
    "PushOrderChanged": "models",
    "PushQuote": "quote_models",
    "PushTrades": "quote_models",
    "QuoteContext": "quote",
    "QuotePush": "quote",
    "RateLimiter": "ratelimit",
    "SecurityBrokers": "quote_models",
    "SecurityDepth": "quote_models",
    "SecurityQuote": "quote_models",
    "SecurityStaticInfo": "quote_models",
    "StockPosition": "models",
    "StockPositionChannel": "models",
    "StockPositionsResponse": "models",
    "SubmitOrderResponse": "models",
    "Subscription": "quote_models",
    "Trade": "quote_models",
    "TradeContext": "trade",
    "TradingSessionInfo": "quote_models",
    "WsOptions": "ws",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(f".{module}", __name__), name)
    globals()[name] = value  # later lookups skip __getattr__
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})


__all__ = [
    "AccountBalance",
    "AdjustType",
    "ApiError",
    "AuthError",
    "BalanceType",
    "Brokers",
    "Candlestick",
    "CashFlow",
    "CashFlowDirection",
    "CashInfo",
    "Config",
    "ConfigError",
    "ConnectionClosed",
    "ConnectionLimitError",
    "ConnectionState",
    "Depth",
    "ErrorKind",
    "EstimateMaxPurchaseQuantityResponse",
    "Execution",
    "FrozenTransactionFee",
    "FundPosition",
    "FundPositionChannel",
    "FundPositionsResponse",
    "HttpClient",
    "HttpError",
    "IntradayLine",
    "InvalidArgument",
    "Language",
    "Liveness",
    "MarginRatio",
    "Market",
    "MarketTradingDays",
    "MarketTradingSession",
    "OpenApiException",
    "Order",
    "OrderChargeDetail",
    "OrderDetail",
    "OrderError",
    "OrderHistoryDetail",
    "OrderSide",
    "OrderStatus",
    "OrderTag",
    "OrderType",
    "OutsideRTH",
    "Period",
    "PrePostQuote",
    "ProtocolError",
    "PushBrokers",
    "PushBuffer",
    "PushCandlestickMode",
    "PushDepth",
    "PushOrderChanged",
    "PushQuote",
    "PushTrades",
    "QuoteContext",
    "QuotePush",
    "RateLimitError",
    "RateLimiter",
    "RequestTimeout",
    "SecurityBrokers",
    "SecurityDepth",
    "SecurityQuote",
    "SecurityStaticInfo",
    "StockPosition",
    "StockPositionChannel",
    "StockPositionsResponse",
    "SubType",
    "SubmitOrderResponse",
    "Subscription",
    "TimeInForceType",
    "TopicType",
    "Trade",
    "TradeContext",
    "TradeDirection",
    "TradeSession",
    "TradeSessions",
    "TradeStatus",
    "TradingSessionInfo",
    "TriggerStatus",
    "WsOptions",
]
