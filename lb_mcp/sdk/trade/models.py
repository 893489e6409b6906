"""Trade and asset response models: frozen pydantic, ``Decimal`` money, UTC datetimes.

Attribute names are the official Python SDK's (rest.md §8.1), e.g. ``StockPositionsResponse.
channels`` for wire ``list``. Parsing tolerates exactly what SDK 5.3.0 tolerates (rest.md §1.5,
§8): ``""`` means "none" (or 0) where the SDK says so, plain decimals may be JSON numbers,
unknown enum strings become ``Unknown``, extra fields are ignored; timestamps sent as JSON
numbers, a string ``limit_depth_level`` or an ``executed_price`` of ``""`` are refused, as the
SDK refuses them. Quote models live elsewhere.

This module gathers them for callers: the wire scalars are in ``wire_fields``, the asset models
in ``asset_models``, the order models and the trade push in ``order_models``.
"""

from __future__ import annotations

from lb_mcp.sdk.trade.asset_models import (
    AccountBalance,
    AccountBalanceList,
    CashFlow,
    CashFlowList,
    CashInfo,
    EstimateMaxPurchaseQuantityResponse,
    FrozenTransactionFee,
    FundPosition,
    FundPositionChannel,
    FundPositionsResponse,
    MarginRatio,
    StockPosition,
    StockPositionChannel,
    StockPositionsResponse,
)
from lb_mcp.sdk.trade.order_models import (
    ORDER_CHANGED_EVENT,
    AttachedOrderDetail,
    ChargeCategoryCode,
    CommissionFreeStatus,
    DeductionStatus,
    Execution,
    ExecutionList,
    Order,
    OrderChargeDetail,
    OrderChargeFee,
    OrderChargeItem,
    OrderDetail,
    OrderHistoryDetail,
    OrderList,
    PushOrderChanged,
    SubmitOrderResponse,
    parse_order_changed,
)

__all__ = [
    "ORDER_CHANGED_EVENT",
    "AccountBalance",
    "AccountBalanceList",
    "AttachedOrderDetail",
    "CashFlow",
    "CashFlowList",
    "CashInfo",
    "ChargeCategoryCode",
    "CommissionFreeStatus",
    "DeductionStatus",
    "EstimateMaxPurchaseQuantityResponse",
    "Execution",
    "ExecutionList",
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
    "OrderList",
    "PushOrderChanged",
    "StockPosition",
    "StockPositionChannel",
    "StockPositionsResponse",
    "SubmitOrderResponse",
    "parse_order_changed",
]
