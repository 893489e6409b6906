"""Facts the order guards need, gathered from the backend at check time.

``check_order`` is pure; this module is its I/O half. It reads a quote and the static info of
the symbol through anything shaped like the SDK's ``QuoteContext`` (``quote``/``static_info``),
the account's capacity through ``TradeContext`` (``estimate_max_purchase_quantity``,
``stock_positions``), and today's usage from the ``UsageLedger``. A backend failure while
reading capacity leaves that fact unknown (the broker still refuses what it cannot fill); a
failure reading the quote leaves ``last`` empty, so the price-band guard refuses rather than
guessing.

FX for the notional caps uses the Hong Kong dollar peg band (7.75-7.85 HKD per USD) and always
picks the end that makes the order look **larger** in the base currency, so the cap can only
err on the side of refusing.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Protocol

from lb_mcp.sdk.enums import OrderSide, TradeStatus
from lb_mcp.sdk.errors import OpenApiException
from lb_mcp.sdk.trade import TradeContext

from .canonical import OrderIntent
from .guards import InstrumentFacts, QuoteFacts, UsageFacts

log = logging.getLogger("lb_mcp.server.orders")

# (lowest, highest) value of one unit in HKD. HKD is pegged to USD inside 7.75-7.85.
_HKD_BAND: dict[str, tuple[Decimal, Decimal]] = {
    "HKD": (Decimal(1), Decimal(1)),
    "USD": (Decimal("7.75"), Decimal("7.85")),
}


def fx_to_base(currency: str, base: str) -> Decimal | None:
    """An upper bound for the value of one ``currency`` unit in ``base`` (None: no rate)."""
    currency, base = currency.upper(), base.upper()
    if currency == base:
        return Decimal(1)
    src, dst = _HKD_BAND.get(currency), _HKD_BAND.get(base)
    if src is None or dst is None:
        return None
    return src[1] / dst[0]


class QuoteLike(Protocol):
    @property
    def symbol(self) -> str: ...
    @property
    def last_done(self) -> Decimal: ...
    @property
    def prev_close(self) -> Decimal: ...
    @property
    def trade_status(self) -> TradeStatus: ...
    @property
    def timestamp(self) -> datetime: ...


class StaticLike(Protocol):
    @property
    def symbol(self) -> str: ...
    @property
    def name_en(self) -> str: ...
    @property
    def currency(self) -> str: ...
    @property
    def lot_size(self) -> int: ...


class QuoteSource(Protocol):
    """The part of ``QuoteContext`` the guards read."""

    async def quote(self, symbols: list[str]) -> Sequence[QuoteLike]: ...
    async def static_info(self, symbols: list[str]) -> Sequence[StaticLike]: ...


class FactsError(Exception):
    """The instrument itself is unknown to the backend (``code`` is stable)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


async def market_facts(
    quotes: QuoteSource, intent: OrderIntent, base_currency: str
) -> tuple[QuoteFacts, InstrumentFacts]:
    try:
        statics = await quotes.static_info([intent.symbol])
    except OpenApiException as exc:
        raise FactsError(
            "QUOTE_UNAVAILABLE", f"cannot read {intent.symbol} from the broker: {exc.message}"
        ) from None
    info = next((s for s in statics if s.symbol == intent.symbol), None)
    if info is None or info.lot_size <= 0:
        raise FactsError("NO_INSTRUMENT", f"{intent.symbol} is not a known security")
    instrument = InstrumentFacts(
        lot_size=info.lot_size,
        currency=info.currency,
        name=info.name_en,
        fx_to_base=fx_to_base(info.currency, base_currency),
    )
    try:
        rows = await quotes.quote([intent.symbol])
    except OpenApiException as exc:
        log.warning("quote for %s failed: %s", intent.symbol, exc)
        return QuoteFacts(last=None), instrument
    row = next((q for q in rows if q.symbol == intent.symbol), None)
    if row is None:
        return QuoteFacts(last=None), instrument
    quote = QuoteFacts(
        last=row.last_done if row.last_done > 0 else None,
        prev_close=row.prev_close if row.prev_close > 0 else None,
        trade_status=row.trade_status,
        as_of=row.timestamp,
    )
    return quote, instrument


async def capacity_facts(
    trade: TradeContext, intent: OrderIntent, orders_today: int, notional_today: Decimal
) -> UsageFacts:
    """Today's usage plus what the account can buy or sell; unknown capacity stays None."""
    max_buy: Decimal | None = None
    available: Decimal | None = None
    try:
        if intent.side is OrderSide.Buy:
            estimate = await trade.estimate_max_purchase_quantity(
                intent.symbol, intent.order_type, intent.side, price=intent.price
            )
            max_buy = estimate.margin_max_qty
        else:
            available = await _sellable(trade, intent.symbol)
    except OpenApiException as exc:
        log.warning("capacity check for %s failed: %s", intent.symbol, exc)
    return UsageFacts(
        orders_today=orders_today,
        notional_today=notional_today,
        max_buy_qty=max_buy,
        position_available=available,
    )


async def _sellable(trade: TradeContext, symbol: str) -> Decimal:
    response = await trade.stock_positions([symbol])
    held = [p for c in response.channels for p in c.positions if p.symbol == symbol]
    return sum((p.available_quantity for p in held), Decimal(0))


__all__ = [
    "FactsError",
    "QuoteSource",
    "capacity_facts",
    "fx_to_base",
    "market_facts",
]
