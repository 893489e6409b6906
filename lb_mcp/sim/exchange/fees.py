"""Simplified trading fees, in the order currency, for freezing cash and charging fills.

Loosely modelled on a retail HK/US schedule; the exact Longbridge schedule is not part of the API
spec. Fees are a function of an order's *cumulative* executed amount and share count, so charging
``fees(total) - fees(already charged)`` on each fill adds up to the fee of the whole order.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_HALF_UP, Decimal

from lb_mcp.sdk.enums import Market, OrderSide

_CENT = Decimal("0.01")
D = Decimal


@dataclass(frozen=True)
class Fee:
    code: str  # e.g. "commission"
    name: str
    amount: Decimal
    broker: bool  # broker fee (BROKER_FEES) or third-party fee (THIRD_FEES)


def _cents(value: Decimal) -> Decimal:
    return value.quantize(_CENT, rounding=ROUND_HALF_UP)


def fee_items(market: Market, side: OrderSide, amount: Decimal, shares: Decimal) -> list[Fee]:
    """Itemised fees for an executed ``amount`` of ``shares``; nothing when nothing executed."""
    if amount <= 0:
        return []
    if market is Market.US:
        commission = max(D("0.99"), _cents(shares * D("0.0049")))
        platform = max(D("1.00"), _cents(shares * D("0.005")))
        items = [
            Fee("commission", "Commission", commission, True),
            Fee("platform_fee", "Platform Fees", platform, True),
        ]
        if side is OrderSide.Sell:
            items.append(
                Fee("sec_fee", "SEC Fee", max(_CENT, _cents(amount * D("0.0000278"))), False)
            )
        return items
    stamp = amount * D("0.001")
    return [
        Fee("commission", "Commission", max(D(3), _cents(amount * D("0.0003"))), True),
        Fee("platform_fee", "Platform Fees", D(15), True),
        Fee("stamp_duty", "Stamp Duty", stamp.quantize(D(1), rounding=ROUND_CEILING), False),
        Fee("trading_fee", "Trading Fee", max(_CENT, _cents(amount * D("0.0000565"))), False),
        Fee("sfc_levy", "SFC Levy", max(_CENT, _cents(amount * D("0.000027"))), False),
        Fee("frc_levy", "FRC Levy", max(_CENT, _cents(amount * D("0.0000015"))), False),
        Fee(
            "settlement_fee",
            "Settlement Fee",
            min(D(100), max(D(2), _cents(amount * D("0.00002")))),
            False,
        ),
    ]


def total_fees(market: Market, side: OrderSide, amount: Decimal, shares: Decimal) -> Decimal:
    return sum((f.amount for f in fee_items(market, side, amount, shares)), Decimal(0))


__all__ = ["Fee", "fee_items", "total_fees"]
