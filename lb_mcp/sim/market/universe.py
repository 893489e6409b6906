"""Static facts about the simulated securities: names, lots, boards, tick grids and FX.

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

    @property
    def market(self) -> Market:
        return market_of(self.symbol)

    def name(self, language: str = "en") -> str:
        if language == "zh-CN":
            return self.name_cn
        if language == "zh-HK":
            return self.name_hk
        return self.name_en


def _sec(
    symbol: str,
    names: tuple[str, str, str],
    exchange: str,
    currency: str,
    lot: int,
    board: str,
    price: str,
    shares: tuple[int, int, int],
    fundamentals: tuple[str, str, str, str],
    listing: str,
    margin: tuple[str, str, str],
) -> Security:
    return Security(
        symbol=symbol,
        name_en=names[0],
        name_cn=names[1],
        name_hk=names[2],
        exchange=exchange,
        currency=currency,
        lot_size=lot,
        board=board,
        base_price=D(price),
        total_shares=shares[0],
        circulating_shares=shares[1],
        hk_shares=shares[2],
        eps=D(fundamentals[0]),
        eps_ttm=D(fundamentals[1]),
        bps=D(fundamentals[2]),
        dividend_yield=D(fundamentals[3]),
        listing_date=listing,
        im_factor=D(margin[0]),
        mm_factor=D(margin[1]),
        fm_factor=D(margin[2]),
    )


UNIVERSE: Final[dict[str, Security]] = {
    s.symbol: s
    for s in (
        _sec(
            "700.HK",
            ("Tencent Holdings Ltd.", "腾讯控股", "騰訊控股"),
            "SEHK",
            "HKD",
            100,
            "HKEquity",
            "400.00",
            (9_180_000_000, 9_180_000_000, 9_180_000_000),
            ("20.78", "21.40", "115.32", "3.40"),
            "20040616",
            ("0.25", "0.20", "0.15"),
        ),
        _sec(
            "9988.HK",
            ("Alibaba Group Holding Ltd.", "阿里巴巴-W", "阿里巴巴－Ｗ"),
            "SEHK",
            "HKD",
            100,
            "HKEquity",
            "120.00",
            (19_060_000_000, 19_060_000_000, 19_060_000_000),
            ("6.02", "6.55", "55.80", "0.94"),
            "20191126",
            ("0.30", "0.25", "0.20"),
        ),
        _sec(
            "5.HK",
            ("HSBC Holdings plc", "汇丰控股", "滙豐控股"),
            "SEHK",
            "HKD",
            400,
            "HKEquity",
            "98.50",
            (17_880_000_000, 17_880_000_000, 17_880_000_000),
            ("9.91", "10.12", "72.40", "4.60"),
            "19910701",
            ("0.25", "0.20", "0.15"),
        ),
        _sec(
            "AAPL.US",
            ("Apple Inc.", "苹果", "蘋果"),
            "NASD",
            "USD",
            1,
            "USMain",
            "190.00",
            (15_115_000_000, 15_100_000_000, 0),
            ("6.08", "6.42", "4.44", "1.00"),
            "19801212",
            ("0.30", "0.25", "0.20"),
        ),
        _sec(
            "TSLA.US",
            ("Tesla, Inc.", "特斯拉", "特斯拉"),
            "NASD",
            "USD",
            1,
            "USMain",
            "250.00",
            (3_216_000_000, 2_780_000_000, 0),
            ("2.23", "2.04", "23.10", "0"),
            "20100629",
            ("0.40", "0.35", "0.30"),
        ),
        _sec(
            "NVDA.US",
            ("NVIDIA Corporation", "英伟达", "輝達"),
            "NASD",
            "USD",
            1,
            "USMain",
            "130.00",
            (24_400_000_000, 23_600_000_000, 0),
            ("2.94", "3.10", "2.33", "0.04"),
            "19990122",
            ("0.35", "0.30", "0.25"),
        ),
        _sec(
            "600519.SH",
            ("Kweichow Moutai Co., Ltd.", "贵州茅台", "貴州茅台"),
            "SSE",
            "CNY",
            100,
            "SHMainConnect",
            "1500.00",
            (1_256_200_000, 1_256_200_000, 0),
            ("68.64", "70.10", "190.20", "30.88"),
            "20010827",
            ("0.50", "0.40", "0.30"),
        ),
    )
}

# Rates into HKD (brief: USD/HKD 7.80, CNY/HKD ~1.08). CNH is the account-side name of CNY.
FX_TO_HKD: Final[dict[str, Decimal]] = {
    "HKD": D(1),
    "USD": D("7.80"),
    "CNY": D("1.08"),
    "CNH": D("1.08"),
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


def security(symbol: str) -> Security | None:
    return UNIVERSE.get(symbol)


def lot_size(symbol: str) -> int:
    sec = UNIVERSE.get(symbol)
    return sec.lot_size if sec is not None else 1


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
    "UNIVERSE",
    "Security",
    "convert",
    "is_on_tick",
    "lot_size",
    "move_ticks",
    "round_to_tick",
    "security",
    "tick_size",
]
