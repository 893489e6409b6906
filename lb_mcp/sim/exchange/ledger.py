"""The simulated account: per-currency cash, positions, funds, orders, executions, cash flows.

Cash model (rest.md §4.1, example 12.1):

* ``cash[c]`` is the account's cash in currency ``c`` (settled or not) = ``total cash``;
* ``frozen_cash(c)`` = Σ over open buy orders in ``c`` of remaining × limit + fees still to come;
* ``available_cash(c)`` = cash − frozen; ``withdraw_cash(c)`` also excludes unsettled proceeds;
* ``settling_cash(c)`` = signed net amount of fills not yet settled (HK T+2, US T+1, CN T+1);
* a position's ``available_quantity`` = quantity − shares reserved by open sell orders.

This module only keeps state and applies fills; :mod:`lb_mcp.sim.exchange.matching` decides what
happens.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from decimal import Decimal

from lb_mcp.sdk.enums import BalanceType, CashFlowDirection, Market, OrderSide, market_of
from lb_mcp.sim.exchange.fees import total_fees
from lb_mcp.sim.exchange.orders import ZERO, Execution, OrderRecord

_SETTLE_DAYS = {Market.HK: 2, Market.US: 1, Market.CN: 1}


@dataclass(frozen=True)
class Position:
    symbol: str
    symbol_name: str
    currency: str
    quantity: Decimal
    cost_price: Decimal
    init_quantity: Decimal


@dataclass(frozen=True)
class FundHolding:
    symbol: str  # ISIN
    symbol_name: str
    currency: str
    holding_units: Decimal
    current_nav: Decimal
    cost_nav: Decimal
    nav_day: int


@dataclass(frozen=True)
class CashFlow:
    transaction_flow_name: str
    direction: CashFlowDirection
    business_type: BalanceType
    balance: Decimal  # signed: outflows negative
    currency: str
    business_time: int
    symbol: str
    description: str


@dataclass(frozen=True)
class _Settlement:
    settle_at: int
    currency: str
    amount: Decimal


class Ledger:
    def __init__(
        self,
        *,
        clock: Callable[[], float] = time.time,
        account_no: str = "LB0000001",
        cash: dict[str, Decimal] | None = None,
    ) -> None:
        self.clock = clock
        self.account_no = account_no
        self.account_channel = "lb"
        self.cash: dict[str, Decimal] = dict(
            cash or {"HKD": Decimal("1000000.00"), "USD": Decimal("100000.00")}
        )
        self._positions: dict[str, Position] = {}
        self.funds: list[FundHolding] = []
        self._orders: dict[str, OrderRecord] = {}
        self._executions: list[Execution] = []
        self._cash_flows: list[CashFlow] = []
        self._settlements: list[_Settlement] = []

    # ----------------------------------------------------------------- orders

    def orders(self) -> list[OrderRecord]:
        """The simulator's true order list, in submission order (for tests and red-teaming)."""
        return list(self._orders.values())

    def order(self, order_id: str) -> OrderRecord | None:
        return self._orders.get(order_id)

    def put_order(self, order: OrderRecord) -> None:
        self._orders[order.order_id] = order

    def executions(self) -> list[Execution]:
        return list(self._executions)

    def open_orders(self, symbol: str | None = None) -> list[OrderRecord]:
        return [
            o for o in self._orders.values() if o.is_open and (symbol is None or o.symbol == symbol)
        ]

    # ----------------------------------------------------------------- cash

    def frozen_for(self, order: OrderRecord) -> tuple[Decimal, Decimal]:
        """(frozen cash incl. fees, frozen fees) that an open buy order holds back."""
        if not order.is_open or order.side is not OrderSide.Buy or order.price is None:
            return ZERO, ZERO
        gross = order.quantity * order.price
        fee = max(
            ZERO, total_fees(order.market, order.side, gross, order.quantity) - order.fees_charged
        )
        return order.remaining * order.price + fee, fee

    def frozen_cash(self, currency: str) -> Decimal:
        return sum(
            (self.frozen_for(o)[0] for o in self.open_orders() if o.currency == currency), ZERO
        )

    def frozen_fees(self, currency: str) -> Decimal:
        return sum(
            (self.frozen_for(o)[1] for o in self.open_orders() if o.currency == currency), ZERO
        )

    def available_cash(self, currency: str) -> Decimal:
        return self.cash.get(currency, ZERO) - self.frozen_cash(currency)

    def settling_cash(self, currency: str) -> Decimal:
        now = self.clock()
        return sum(
            (s.amount for s in self._settlements if s.currency == currency and s.settle_at > now),
            ZERO,
        )

    def withdraw_cash(self, currency: str) -> Decimal:
        return self.available_cash(currency) - max(ZERO, self.settling_cash(currency))

    # ----------------------------------------------------------------- positions

    def positions(self) -> list[Position]:
        return list(self._positions.values())

    def position(self, symbol: str) -> Position | None:
        return self._positions.get(symbol)

    def set_position(self, position: Position) -> None:
        self._positions[position.symbol] = position

    def reserved_quantity(self, symbol: str) -> Decimal:
        return sum(
            (o.remaining for o in self.open_orders(symbol) if o.side is OrderSide.Sell), ZERO
        )

    def available_quantity(self, symbol: str) -> Decimal:
        held = self._positions.get(symbol)
        return (held.quantity if held else ZERO) - self.reserved_quantity(symbol)

    # ----------------------------------------------------------------- history

    def cash_flows(self) -> list[CashFlow]:
        return list(self._cash_flows)

    def add_cash_flow(self, flow: CashFlow) -> None:
        self._cash_flows.append(flow)

    def add_execution(self, execution: Execution) -> None:
        self._executions.append(execution)

    # ----------------------------------------------------------------- fills

    def apply_fill(
        self,
        order: OrderRecord,
        price: Decimal,
        quantity: Decimal,
        fee: Decimal,
        ts: int,
        trade_id: str,
    ) -> Execution:
        """Move cash and shares for one fill and record the execution and cash flows."""
        amount = price * quantity
        buy = order.side is OrderSide.Buy
        net = -(amount + fee) if buy else amount - fee
        self.cash[order.currency] = self.cash.get(order.currency, ZERO) + net
        days = _SETTLE_DAYS.get(market_of(order.symbol), 2)
        self._settlements.append(_Settlement(ts + days * 86_400, order.currency, net))
        held = self._positions.get(order.symbol)
        if buy:
            qty = (held.quantity if held else ZERO) + quantity
            cost = ((held.quantity * held.cost_price if held else ZERO) + amount) / qty
            self._positions[order.symbol] = Position(
                order.symbol,
                order.stock_name,
                order.currency,
                qty,
                cost.quantize(Decimal("0.001")),
                held.init_quantity if held else ZERO,
            )
        elif held is not None:
            left = held.quantity - quantity
            if left == 0 and held.init_quantity == 0:
                del self._positions[order.symbol]
            else:
                self._positions[order.symbol] = replace(held, quantity=left)
        execution = Execution(
            order.order_id, trade_id, order.symbol, ts, quantity, price, order.side
        )
        self._executions.append(execution)
        name = "BuyContract-Stocks" if buy else "SellContract-Stocks"
        direction = CashFlowDirection.Out if buy else CashFlowDirection.In
        self._cash_flows.append(
            CashFlow(
                name,
                direction,
                BalanceType.Cash,
                -amount if buy else amount,
                order.currency,
                ts,
                order.symbol,
                f"{order.side.value} {quantity} {order.symbol} @ {price}",
            )
        )
        if fee > 0:
            self._cash_flows.append(
                CashFlow(
                    "Fees",
                    CashFlowDirection.Out,
                    BalanceType.Cash,
                    -fee,
                    order.currency,
                    ts,
                    order.symbol,
                    f"Trading fees for order {order.order_id}",
                )
            )
        return execution


__all__ = ["CashFlow", "FundHolding", "Ledger", "Position"]
