"""Account-side response payloads (rest.md §4, example payloads §12), with SDK-exact wire types.

Orders and executions serialise themselves (:mod:`lb_mcp.sim.exchange.orders`); this module covers
the
balance, positions, funds, cash flow and margin views, which need the market's last prices.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from lb_mcp.sim.exchange.ledger import CashFlow, Ledger
from lb_mcp.sim.exchange.orders import ZERO, dec
from lb_mcp.sim.market.model import MarketModel
from lb_mcp.sim.market.universe import UNIVERSE, convert

_CENT = Decimal("0.01")
ACCOUNT_CURRENCIES = ("HKD", "USD", "CNH")


def money(value: Decimal) -> str:
    return dec(value.quantize(_CENT, rounding=ROUND_HALF_UP))


def balance_entry(ledger: Ledger, market: MarketModel, currency: str) -> dict[str, object]:
    """One ``list[]`` entry of ``/v1/asset/account``, amounts expressed in ``currency``."""
    total_cash = sum((convert(v, c, currency) for c, v in ledger.cash.items()), ZERO)
    buy_power = sum((convert(ledger.available_cash(c), c, currency) for c in ledger.cash), ZERO)
    market_value = init_margin = maintenance = ZERO
    for pos in ledger.positions():
        sec = UNIVERSE[pos.symbol]
        value = convert(pos.quantity * market.last_price(pos.symbol), sec.currency, currency)
        market_value += value
        init_margin += value * sec.im_factor
        maintenance += value * sec.mm_factor
    funds = sum(
        (convert(f.holding_units * f.current_nav, f.currency, currency) for f in ledger.funds),
        ZERO,
    )
    cash_infos = [
        {
            "withdraw_cash": money(ledger.withdraw_cash(c)),
            "available_cash": money(ledger.available_cash(c)),
            "frozen_cash": money(ledger.frozen_cash(c)),
            "settling_cash": money(ledger.settling_cash(c)),
            "currency": c,
        }
        for c in ledger.cash
    ]
    fees = [
        {"currency": c, "frozen_transaction_fee": money(ledger.frozen_fees(c))}
        for c in ledger.cash
        if ledger.frozen_fees(c) > 0
    ]
    return {
        "total_cash": money(total_cash),
        "max_finance_amount": "0.00",
        "remaining_finance_amount": "0.00",
        "risk_level": "0",
        "margin_call": "0.00",
        "currency": currency,
        "net_assets": money(total_cash + market_value + funds),
        "init_margin": money(init_margin),
        "maintenance_margin": money(maintenance),
        "buy_power": money(buy_power),
        "cash_infos": cash_infos,
        "frozen_transaction_fees": fees,
    }


def stock_positions(ledger: Ledger, symbols: list[str]) -> dict[str, object]:
    infos = [
        {
            "symbol": p.symbol,
            "symbol_name": p.symbol_name,
            "currency": p.currency,
            "quantity": dec(p.quantity),
            "available_quantity": dec(ledger.available_quantity(p.symbol)),
            "cost_price": dec(p.cost_price),
            "market": UNIVERSE[p.symbol].market.value,
            "init_quantity": dec(p.init_quantity),
        }
        for p in ledger.positions()
        if not symbols or p.symbol in symbols
    ]
    return {"list": [{"account_channel": ledger.account_channel, "stock_info": infos}]}


def fund_positions(ledger: Ledger, symbols: list[str]) -> dict[str, object]:
    infos = [
        {
            "symbol": f.symbol,
            "symbol_name": f.symbol_name,
            "currency": f.currency,
            "holding_units": dec(f.holding_units),
            "current_net_asset_value": dec(f.current_nav),
            "cost_net_asset_value": dec(f.cost_nav),
            "net_asset_value_day": str(f.nav_day),
        }
        for f in ledger.funds
        if not symbols or f.symbol in symbols
    ]
    return {"list": [{"account_channel": ledger.account_channel, "fund_info": infos}]}


def cash_flow_item(flow: CashFlow) -> dict[str, object]:
    return {
        "transaction_flow_name": flow.transaction_flow_name,
        "direction": int(flow.direction),
        "business_type": int(flow.business_type),
        "balance": money(flow.balance),
        "currency": flow.currency,
        "business_time": str(flow.business_time),
        "symbol": flow.symbol,
        "description": flow.description,
    }


def margin_ratio(symbol: str) -> dict[str, str]:
    sec = UNIVERSE[symbol]
    return {
        "im_factor": dec(sec.im_factor),
        "mm_factor": dec(sec.mm_factor),
        "fm_factor": dec(sec.fm_factor),
    }


__all__ = [
    "ACCOUNT_CURRENCIES",
    "balance_entry",
    "cash_flow_item",
    "fund_positions",
    "margin_ratio",
    "money",
    "stock_positions",
]
