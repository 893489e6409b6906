"""Asset response models (rest.md §8.1): balances, cash flows, positions, margin, max quantity.

Frozen pydantic with ``Decimal`` money and UTC datetimes; attribute names are the official
Python SDK's (e.g. ``StockPositionsResponse.channels`` for wire ``list``). Wire parsing rules
live in ``wire_fields``.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BeforeValidator, Field

from lb_mcp.sdk.enums import BalanceType, CashFlowDirection, Market
from lb_mcp.sdk.trade.fields import (
    Dec,
    DecOrZero,
    OptDec,
    OptStr,
    Timestamp,
    WireModel,
    WireStr,
    balance_type,
    cash_flow_direction,
    risk_level,
    str_enum,
)


class CashInfo(WireModel):
    withdraw_cash: Dec
    available_cash: Dec
    frozen_cash: Dec
    settling_cash: Dec
    currency: WireStr


class FrozenTransactionFee(WireModel):
    currency: WireStr
    frozen_transaction_fee: Dec


class AccountBalance(WireModel):
    total_cash: Dec
    max_finance_amount: Dec
    remaining_finance_amount: Dec
    risk_level: Annotated[int, BeforeValidator(risk_level)]
    margin_call: Dec
    currency: WireStr
    cash_infos: list[CashInfo] = Field(default_factory=list)
    net_assets: DecOrZero
    init_margin: DecOrZero
    maintenance_margin: DecOrZero
    buy_power: DecOrZero
    frozen_transaction_fees: list[FrozenTransactionFee]


class CashFlow(WireModel):
    transaction_flow_name: WireStr
    direction: Annotated[CashFlowDirection, BeforeValidator(cash_flow_direction)]
    business_type: Annotated[BalanceType, BeforeValidator(balance_type)]
    balance: Dec
    currency: WireStr
    business_time: Timestamp
    symbol: OptStr
    description: WireStr


class FundPosition(WireModel):
    counter_id: WireStr = Field(validation_alias="symbol")
    current_net_asset_value: DecOrZero
    net_asset_value_day: Timestamp
    symbol_name: WireStr
    currency: WireStr
    cost_net_asset_value: DecOrZero
    holding_units: Dec


class FundPositionChannel(WireModel):
    account_channel: WireStr
    positions: list[FundPosition] = Field(default_factory=list, validation_alias="fund_info")


class FundPositionsResponse(WireModel):
    channels: list[FundPositionChannel] = Field(validation_alias="list")


class StockPosition(WireModel):
    symbol: WireStr
    symbol_name: WireStr
    quantity: Dec
    available_quantity: Dec
    currency: WireStr
    cost_price: DecOrZero
    market: Annotated[Market, str_enum(Market)]
    init_quantity: OptDec


class StockPositionChannel(WireModel):
    account_channel: WireStr
    positions: list[StockPosition] = Field(default_factory=list, validation_alias="stock_info")


class StockPositionsResponse(WireModel):
    channels: list[StockPositionChannel] = Field(validation_alias="list")


class MarginRatio(WireModel):
    im_factor: Dec
    mm_factor: Dec
    fm_factor: Dec


class EstimateMaxPurchaseQuantityResponse(WireModel):
    cash_max_qty: DecOrZero
    margin_max_qty: DecOrZero


# --- list envelopes (internal: the SDK methods return the bare lists) -----------------------


class AccountBalanceList(WireModel):
    items: list[AccountBalance] = Field(validation_alias="list")


class CashFlowList(WireModel):
    items: list[CashFlow] = Field(validation_alias="list")


__all__ = [
    "AccountBalance",
    "AccountBalanceList",
    "CashFlow",
    "CashFlowList",
    "CashInfo",
    "EstimateMaxPurchaseQuantityResponse",
    "FrozenTransactionFee",
    "FundPosition",
    "FundPositionChannel",
    "FundPositionsResponse",
    "MarginRatio",
    "StockPosition",
    "StockPositionChannel",
    "StockPositionsResponse",
]
