"""The simulated account's starting state: cash, two positions bought on earlier days, a fund.

The positions are built by replaying their (filled) purchase orders through the ledger, so the
history endpoints, cash flows, cost prices and cash all agree from the first request on:
HKD 1,000,000 and USD 100,000 of cash, 700.HK 200 @ 352.4 and AAPL.US 10 @ 189.95.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from decimal import Decimal

from lb_mcp.sdk.enums import (
    BalanceType,
    CashFlowDirection,
    OrderSide,
    OrderStatus,
    OrderType,
    OutsideRTH,
    TimeInForceType,
)
from lb_mcp.sim.exchange.fees import total_fees
from lb_mcp.sim.exchange.ledger import CashFlow, FundHolding, Ledger
from lb_mcp.sim.exchange.matching import OrderIds
from lb_mcp.sim.exchange.orders import HistoryLine, OrderRecord
from lb_mcp.sim.market.sessions import local_date, local_midnight
from lb_mcp.sim.market.universe import UNIVERSE

START_CASH = {"HKD": Decimal("1000000.00"), "USD": Decimal("100000.00")}
START_POSITIONS = (
    ("700.HK", Decimal(200), Decimal("352.4"), 5),
    ("AAPL.US", Decimal(10), Decimal("189.95"), 4),
)


def _past_session_time(symbol: str, now: float, days_ago: int) -> int:
    """10:00 local time on the weekday ``days_ago`` (or a little more) days before ``now``."""
    market = UNIVERSE[symbol].market
    day = local_date(market, now) - timedelta(days=days_ago)
    while day.weekday() >= 5:
        day -= timedelta(days=1)
    return local_midnight(market, day) + 10 * 3600


def seed_account(ledger: Ledger, ids: OrderIds, now: float) -> None:
    """Fill a fresh ledger: deposits, the two purchases, and a money-market fund holding."""
    costs = {
        symbol: qty * price + total_fees(UNIVERSE[symbol].market, OrderSide.Buy, qty * price, qty)
        for symbol, qty, price, _ in START_POSITIONS
    }
    deposit_at = int(now) - 30 * 86_400
    for currency, amount in START_CASH.items():
        spent = sum((c for s, c in costs.items() if UNIVERSE[s].currency == currency), Decimal(0))
        ledger.cash[currency] = amount + spent
        ledger.add_cash_flow(
            CashFlow(
                "Deposit",
                CashFlowDirection.In,
                BalanceType.Cash,
                amount + spent,
                currency,
                deposit_at,
                "",
                "Initial deposit",
            )
        )
    for n, (symbol, qty, price, days_ago) in enumerate(START_POSITIONS, start=1):
        sec = UNIVERSE[symbol]
        ts = _past_session_time(symbol, now, days_ago)
        order = OrderRecord(
            order_id=ids.next(ts),
            symbol=symbol,
            stock_name=sec.name_en,
            market=sec.market,
            side=OrderSide.Buy,
            order_type=OrderType.LO,
            quantity=qty,
            price=price,
            status=OrderStatus.New,
            submitted_at=ts,
            updated_at=ts,
            time_in_force=TimeInForceType.Day,
            expire_date=None,
            trade_date=local_date(sec.market, ts),
            outside_rth=OutsideRTH.RTHOnly if sec.market.value == "US" else None,
            currency=sec.currency,
        )
        fee = total_fees(sec.market, OrderSide.Buy, qty * price, qty)
        ledger.apply_fill(order, price, qty, fee, ts + 2, f"{order.order_id}-{n}")
        ledger.put_order(
            replace(
                order,
                status=OrderStatus.Filled,
                updated_at=ts + 2,
                executed_quantity=qty,
                executed_amount=qty * price,
                last_done=price,
                last_share=qty,
                fees_charged=fee,
                history=(
                    HistoryLine(price, qty, OrderStatus.New, "", ts),
                    HistoryLine(price, qty, OrderStatus.Filled, f"Execution of {qty}", ts + 2),
                ),
            )
        )
        held = ledger.position(symbol)
        if held is not None:
            ledger.set_position(replace(held, init_quantity=held.quantity))
    ledger.funds.append(
        FundHolding(
            "HK0000447943",
            "Sim HKD Money Market Fund",
            "HKD",
            Decimal("1000.00"),
            Decimal("10.5230"),
            Decimal("10.0000"),
            local_midnight(UNIVERSE["700.HK"].market, local_date(UNIVERSE["700.HK"].market, now)),
        )
    )


__all__ = ["START_CASH", "START_POSITIONS", "seed_account"]
