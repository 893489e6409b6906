"""A security's static facts, its exchange's tick grid and the FX rates the simulator uses.

Prices are ``Decimal`` on an exchange tick grid (rest.md §9.3). The HK spread table bands are
half-open on the left: a price exactly on a band edge belongs to the lower band (HKEX "up to and
including"), so moving *up* from an edge uses the next band's tick.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_FLOOR, Decimal
from typing import Final

from lb_mcp.sdk.enums import Market, market_of

D = Decimal


@dataclass(frozen=True)
class Security:
    symbol: str
    name_en: str
    name_cn: str
    name_hk: str
    exchange: str
    currency: str
    lot_size: int
    board: str
    base_price: Decimal
    total_shares: int
    circulating_shares: int
    hk_shares: int
    eps: Decimal
    eps_ttm: Decimal
    bps: Decimal
    dividend_yield: Decimal  # dividend per share, as the wire field means (protocol.md §5.5)
    listing_date: str  # YYYYMMDD
    im_factor: Decimal
    mm_factor: Decimal
    fm_factor: Decimal
    kind: str = "stock"  # stock | etf | index (indices are quote-only)
    approximate: bool = False  # a lot or name in the data file is plausible, not known

    @property
    def quote_only(self) -> bool:
        return self.kind == "index"

    @property
    def market(self) -> Market:
        return market_of(self.symbol)

    def name(self, language: str = "en") -> str:
        if language == "zh-CN":
            return self.name_cn
        if language == "zh-HK":
            return self.name_hk
        return self.name_en


# Rates into HKD (brief: USD/HKD 7.80, CNY/HKD ~1.08). CNH is the account-side name of CNY.
FX_TO_HKD: Final[dict[str, Decimal]] = {
    "HKD": D(1),
    "USD": D("7.80"),
    "CNY": D("1.08"),
    "CNH": D("1.08"),
    "SGD": D("5.80"),
}

# HKEX spread table, part A: (upper bound inclusive, tick).
_HK_SPREADS: Final[tuple[tuple[Decimal, Decimal], ...]] = (
    (D("0.25"), D("0.001")),
    (D("0.50"), D("0.005")),
    (D("10"), D("0.01")),
    (D("20"), D("0.02")),
    (D("100"), D("0.05")),
    (D("200"), D("0.10")),
    (D("500"), D("0.20")),
    (D("1000"), D("0.50")),
    (D("2000"), D("1.00")),
    (D("5000"), D("2.00")),
    (D("9995"), D("5.00")),
)


def _tick_for(market: Market, price: Decimal, *, upward: bool) -> Decimal:
    if market is Market.HK:
        for upper, tick in _HK_SPREADS:
            # Upward moves from a band edge take the tick of the band above it.
            if price < upper or (price == upper and not upward):
                return tick
        return _HK_SPREADS[-1][1]
    if market is Market.US:
        below_one = price < 1 or (price == 1 and not upward)
        return D("0.0001") if below_one else D("0.01")
    return D("0.01")


def tick_size(symbol: str, price: Decimal) -> Decimal:
    """The minimum price step that applies *at* ``price`` (used to validate limit prices)."""
    return _tick_for(market_of(symbol), price, upward=False)


def is_on_tick(symbol: str, price: Decimal) -> bool:
    if price <= 0:
        return False
    return price % tick_size(symbol, price) == 0


def round_to_tick(symbol: str, price: Decimal) -> Decimal:
    """Round down onto the grid (never below the smallest tick)."""
    tick = tick_size(symbol, price)
    rounded = (price / tick).to_integral_value(rounding=ROUND_FLOOR) * tick
    return max(rounded, tick)


def move_ticks(symbol: str, price: Decimal, ticks: int) -> Decimal:
    """Move ``ticks`` steps along the grid (negative = down), crossing band edges correctly."""
    market = market_of(symbol)
    for _ in range(abs(ticks)):
        if ticks > 0:
            price += _tick_for(market, price, upward=True)
        else:
            step = _tick_for(market, price, upward=False)
            if price - step <= 0:
                break
            price -= step
    return price


def convert(amount: Decimal, from_ccy: str, to_ccy: str) -> Decimal:
    if from_ccy == to_ccy:
        return amount
    return amount * FX_TO_HKD[from_ccy] / FX_TO_HKD[to_ccy]


__all__ = [
    "FX_TO_HKD",
    "Security",
    "convert",
    "is_on_tick",
    "move_ticks",
    "round_to_tick",
    "tick_size",
]
