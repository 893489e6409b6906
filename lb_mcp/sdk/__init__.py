"""SDK-style async core speaking the Longbridge OpenAPI wire protocol.

The cheap, dependency-free names (config, enums, errors) are imported eagerly; everything that
pulls in httpx, websockets, protobuf or many pydantic models is imported on first attribute
access (PEP 562), so ``from lb_mcp.sdk.config import Config`` does not load the network stack.
``from lb_mcp.sdk import QuoteContext`` works as before.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from lb_mcp.sdk.config import Config, ConfigError, Language, PushCandlestickMode
from lb_mcp.sdk.enums import (
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
from lb_mcp.sdk.errors import (
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
    from lb_mcp.sdk.oauth.builder import OAuthBuilder
    from lb_mcp.sdk.oauth.client import OAuth
    from lb_mcp.sdk.quote.context import QuoteContext, QuotePush
    from lb_mcp.sdk.quote.models import (
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
    from lb_mcp.sdk.trade.context import TradeContext
    from lb_mcp.sdk.trade.models import (
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
    from lb_mcp.sdk.transport.buffer import PushBuffer
    from lb_mcp.sdk.transport.http import HttpClient
    from lb_mcp.sdk.transport.ratelimit import RateLimiter
    from lb_mcp.sdk.transport.ws import ConnectionLimitError, ConnectionState, Liveness, WsOptions

# Public name -> submodule that defines it, for the names imported on first use.
_LAZY: dict[str, str] = {
    "AccountBalance": "trade.models",
    "Brokers": "quote.models",
    "Candlestick": "quote.models",
    "CashFlow": "trade.models",
    "CashInfo": "trade.models",
    "ConnectionLimitError": "transport.ws",
    "ConnectionState": "transport.ws",
    "Depth": "quote.models",
    "EstimateMaxPurchaseQuantityResponse": "trade.models",
    "Execution": "trade.models",
    "FrozenTransactionFee": "trade.models",
    "FundPosition": "trade.models",
    "FundPositionChannel": "trade.models",
    "FundPositionsResponse": "trade.models",
    "HttpClient": "transport.http",
    "IntradayLine": "quote.models",
    "Liveness": "transport.ws",
    "MarginRatio": "trade.models",
    "MarketTradingDays": "quote.models",
    "MarketTradingSession": "quote.models",
    "OAuth": "oauth.client",
    "OAuthBuilder": "oauth.builder",
    "Order": "trade.models",
    "OrderChargeDetail": "trade.models",
    "OrderDetail": "trade.models",
    "OrderHistoryDetail": "trade.models",
    "PrePostQuote": "quote.models",
    "PushBrokers": "quote.models",
    "PushBuffer": "transport.buffer",
    "PushDepth": "quote.models",
    "PushOrderChanged": "trade.models",
    "PushQuote": "quote.models",
    "PushTrades": "quote.models",
    "QuoteContext": "quote.context",
    "QuotePush": "quote.context",
    "RateLimiter": "transport.ratelimit",
    "SecurityBrokers": "quote.models",
    "SecurityDepth": "quote.models",
    "SecurityQuote": "quote.models",
    "SecurityStaticInfo": "quote.models",
    "StockPosition": "trade.models",
    "StockPositionChannel": "trade.models",
    "StockPositionsResponse": "trade.models",
    "SubmitOrderResponse": "trade.models",
    "Subscription": "quote.models",
    "Trade": "quote.models",
    "TradeContext": "trade.context",
    "TradingSessionInfo": "quote.models",
    "WsOptions": "transport.ws",
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
    "OAuth",
    "OAuthBuilder",
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
