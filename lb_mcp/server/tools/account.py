"""Account tools (official SDK names): balances, positions, margin, cash flow, max purchase.

Thin adapters: validate arguments, call ``TradeContext``, shape a compact decimal-string result.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Literal

from mcp.server.mcpserver import MCPServer
from pydantic import Field

from lb_mcp.sdk.enums import BalanceType, OrderSide, OrderType
from lb_mcp.sdk.trade.models import AccountBalance
from lb_mcp.server.context import AppContext, AppCtx, app_of
from lb_mcp.server.errors import ToolFailure
from lb_mcp.server.output import (
    READ_BROKER,
    BrokerText,
    Money,
    Out,
    Qty,
    SymbolArg,
    SymbolsArg,
    UtcTime,
    parse_date_arg,
    parse_decimal_arg,
    parse_symbol,
    parse_symbols,
)

Currency = Literal["HKD", "USD", "CNH"]
DateArg = Annotated[str, Field(max_length=10)]


class CashOut(Out):
    currency: str
    available: Money
    withdrawable: Money
    frozen: Money
    settling: Money


class FeeOut(Out):
    currency: str
    amount: Money


class BalanceOut(Out):
    currency: str
    total_cash: Money
    net_assets: Money
    buy_power: Money
    max_finance_amount: Money
    remaining_finance_amount: Money
    margin_call: Money
    init_margin: Money
    maintenance_margin: Money
    risk_level: int = Field(description="0 safe, 1 medium, 2 early warning, 3 danger")
    cash: list[CashOut]
    frozen_fees: list[FeeOut]

    @classmethod
    def from_sdk(cls, b: AccountBalance) -> BalanceOut:
        return cls(
            currency=b.currency,
            total_cash=b.total_cash,
            net_assets=b.net_assets,
            buy_power=b.buy_power,
            max_finance_amount=b.max_finance_amount,
            remaining_finance_amount=b.remaining_finance_amount,
            margin_call=b.margin_call,
            init_margin=b.init_margin,
            maintenance_margin=b.maintenance_margin,
            risk_level=b.risk_level,
            cash=[
                CashOut(
                    currency=c.currency,
                    available=c.available_cash,
                    withdrawable=c.withdraw_cash,
                    frozen=c.frozen_cash,
                    settling=c.settling_cash,
                )
                for c in b.cash_infos
            ],
            frozen_fees=[
                FeeOut(currency=f.currency, amount=f.frozen_transaction_fee)
                for f in b.frozen_transaction_fees
            ],
        )


class BalanceResult(Out):
    balances: list[BalanceOut]


class PositionOut(Out):
    account_channel: str
    symbol: str
    name: BrokerText
    quantity: Qty
    available_quantity: Qty
    currency: str
    cost_price: Money
    market: str


class PositionsResult(Out):
    positions: list[PositionOut]
    count: int


class FundPositionOut(Out):
    account_channel: str
    symbol: str
    name: BrokerText
    currency: str
    holding_units: Qty
    current_nav: Money
    cost_nav: Money
    nav_day: UtcTime


class FundPositionsResult(Out):
    positions: list[FundPositionOut]
    count: int


class MarginRatioResult(Out):
    symbol: str
    im_factor: Money = Field(description="initial margin factor")
    mm_factor: Money = Field(description="maintenance margin factor")
    fm_factor: Money = Field(description="forced-liquidation margin factor")


class CashFlowOut(Out):
    time: UtcTime
    name: BrokerText
    direction: str
    business_type: str
    amount: Money
    currency: str
    symbol: str | None
    description: BrokerText


class CashFlowResult(Out):
    flows: list[CashFlowOut]
    page: int
    size: int
    has_more: bool


class MaxPurchaseResult(Out):
    symbol: str
    side: str
    cash_max_qty: Qty
    margin_max_qty: Qty


async def get_balances(app: AppContext, currency: str | None) -> list[AccountBalance]:
    return list(await app.trade.account_balance(currency.upper() if currency else None))


def _day(text: str | None, what: str, default: date) -> date:
    return default if text is None else parse_date_arg(text, what)


def register(mcp: MCPServer[AppContext]) -> None:
    @mcp.tool(annotations=READ_BROKER, title="Account balance")
    async def account_balance(ctx: AppCtx, currency: Currency | None = None) -> BalanceResult:
        """Cash, buying power, net assets, margin state; `currency` converts the totals (default:
        the broker's view)."""
        return BalanceResult(
            balances=[BalanceOut.from_sdk(b) for b in await get_balances(app_of(ctx), currency)]
        )

    @mcp.tool(annotations=READ_BROKER, title="Stock positions")
    async def stock_positions(ctx: AppCtx, symbols: SymbolsArg | None = None) -> PositionsResult:
        """Stock holdings: quantity, sellable quantity, average cost (no live prices: see
        `portfolio`)."""
        wanted = parse_symbols(symbols) if symbols is not None else None
        resp = await app_of(ctx).trade.stock_positions(wanted)
        rows = [
            PositionOut(
                account_channel=ch.account_channel,
                symbol=p.symbol,
                name=p.symbol_name,
                quantity=p.quantity,
                available_quantity=p.available_quantity,
                currency=p.currency,
                cost_price=p.cost_price,
                market=p.market.value,
            )
            for ch in resp.channels
            for p in ch.positions
        ]
        return PositionsResult(positions=rows, count=len(rows))

    @mcp.tool(annotations=READ_BROKER, title="Fund positions")
    async def fund_positions(ctx: AppCtx, symbols: SymbolsArg | None = None) -> FundPositionsResult:
        """Mutual-fund holdings: units held, current and cost net asset value per unit."""
        wanted = parse_symbols(symbols) if symbols is not None else None
        resp = await app_of(ctx).trade.fund_positions(wanted)
        rows = [
            FundPositionOut(
                account_channel=ch.account_channel,
                symbol=p.counter_id,
                name=p.symbol_name,
                currency=p.currency,
                holding_units=p.holding_units,
                current_nav=p.current_net_asset_value,
                cost_nav=p.cost_net_asset_value,
                nav_day=p.net_asset_value_day,
            )
            for ch in resp.channels
            for p in ch.positions
        ]
        return FundPositionsResult(positions=rows, count=len(rows))

    @mcp.tool(annotations=READ_BROKER, title="Margin ratio")
    async def margin_ratio(ctx: AppCtx, symbol: SymbolArg) -> MarginRatioResult:
        """Initial, maintenance and forced-liquidation margin factors for one symbol."""
        sym = parse_symbol(symbol)
        r = await app_of(ctx).trade.margin_ratio(sym)
        return MarginRatioResult(
            symbol=sym, im_factor=r.im_factor, mm_factor=r.mm_factor, fm_factor=r.fm_factor
        )

    @mcp.tool(annotations=READ_BROKER, title="Cash flow")
    async def cash_flow(
        ctx: AppCtx,
        start: DateArg | None = None,
        end: DateArg | None = None,
        symbol: SymbolArg | None = None,
        page: Annotated[int, Field(ge=1, le=1000)] = 1,
        size: Annotated[int, Field(ge=1, le=200)] = 50,
    ) -> CashFlowResult:
        """Cash movements (trades, fees, deposits, dividends) between UTC dates (default: last 30
        days), newest first; next `page` while `has_more`."""
        today = datetime.now(UTC).date()
        end_day = _day(end, "end", today)
        start_day = _day(start, "start", end_day - timedelta(days=30))
        if start_day > end_day:
            raise ToolFailure("INVALID_ARGUMENT", "start must not be after end")
        flows = await app_of(ctx).trade.cash_flow(
            datetime.combine(start_day, time.min, tzinfo=UTC),
            datetime.combine(end_day, time.max, tzinfo=UTC),
            symbol=parse_symbol(symbol) if symbol else None,
            page=page,
            size=size,
        )
        rows = [
            CashFlowOut(
                time=f.business_time,
                name=f.transaction_flow_name,
                direction=f.direction.name,
                business_type=f.business_type.name
                if isinstance(f.business_type, BalanceType)
                else str(f.business_type),
                amount=f.balance,
                currency=f.currency,
                symbol=f.symbol,
                description=f.description,
            )
            for f in flows
        ]
        return CashFlowResult(flows=rows, page=page, size=size, has_more=len(rows) >= size)

    @mcp.tool(annotations=READ_BROKER, title="Estimate max purchase quantity")
    async def estimate_max_purchase_quantity(
        ctx: AppCtx,
        symbol: SymbolArg,
        side: Literal["Buy", "Sell"],
        order_type: Literal["LO", "ELO", "MO", "AO", "ALO"] = "LO",
        price: Annotated[str, Field(max_length=32)] | None = None,
    ) -> MaxPurchaseResult:
        """Shares that could be bought (or sold) now, with cash and with margin; limit orders need
        `price`. Places no order."""
        sym = parse_symbol(symbol)
        kind = OrderType(order_type)
        if kind in (OrderType.LO, OrderType.ELO) and price is None:
            raise ToolFailure("INVALID_ARGUMENT", "price is required for a limit order (LO/ELO)")
        limit = parse_decimal_arg(price, "price") if price is not None else None
        r = await app_of(ctx).trade.estimate_max_purchase_quantity(
            sym, kind, OrderSide(side), price=limit
        )
        return MaxPurchaseResult(
            symbol=sym, side=side, cash_max_qty=r.cash_max_qty, margin_max_qty=r.margin_max_qty
        )


__all__ = ["BalanceOut", "get_balances", "register"]
