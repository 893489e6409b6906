"""The simulated instrument universe: every security the sandbox knows, loaded on first use.

About a thousand instruments (US large caps and ETFs, HK index constituents with their board lots,
a few dozen CN and SG names, quote-only indices) live in ``data/universe.csv`` inside the package
(see :mod:`.catalog` for the columns). The file is read on the first lookup, never at import, so
``lb-mcp serve`` starts as fast as before. Seven securities keep hand-written fundamentals
(:data:`_DETAILED`). :meth:`Universe.extend` adds or replaces instruments from a user's file
(``lb-mcp sim --universe FILE``, ``LB_MCP_SIM_UNIVERSE``). Everything is simulated data: names and
lots are public facts (rows marked ``approximate`` are plausible guesses), prices are not quotes.

Tick grids, :class:`Security` and FX live in :mod:`.instrument` and are re-exported here.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator, Mapping
from decimal import Decimal
from importlib import resources
from typing import Final

from lb_mcp.sim.market import catalog
from lb_mcp.sim.market.instrument import (
    FX_TO_HKD,
    Security,
    convert,
    is_on_tick,
    move_ticks,
    round_to_tick,
    tick_size,
)

D = Decimal
DATA_FILE: Final = "universe.csv"
# HK stocks with simulated warrants and CBBCs (:mod:`.derivatives`). Their order fixes the
# warrant codes (20000 + index × 100 ...): append only.
WARRANT_UNDERLYINGS: Final = (
    "5.HK",
    "700.HK",
    "9988.HK",
    "3690.HK",
    "1810.HK",
    "1299.HK",
    "388.HK",
    "2318.HK",
    "939.HK",
    "1211.HK",
    "9618.HK",
)


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


# The seven original securities, with real-looking fundamentals; they override their CSV rows.
_DETAILED: Final[dict[str, Security]] = {
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


class Universe(Mapping[str, Security]):
    """Symbol → :class:`Security`, read from the package's data file on first access."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._data: dict[str, Security] | None = None
        self._extra: dict[str, Security] = {}
        self.loads = 0  # how many times the built-in file was read (tests: not at import)

    def _table(self) -> dict[str, Security]:
        data = self._data
        if data is None:
            with self._lock:
                if self._data is None:
                    text = (resources.files("lb_mcp.sim.market") / "data" / DATA_FILE).read_text(
                        encoding="utf-8"
                    )
                    table = {s.symbol: s for s in catalog.parse(text, DATA_FILE)}
                    table.update(_DETAILED)
                    table.update(self._extra)
                    self.loads += 1
                    self._data = table
                data = self._data
        return data

    @property
    def loaded(self) -> bool:
        return self._data is not None

    def __getitem__(self, symbol: str) -> Security:
        return self._table()[symbol]

    def __contains__(self, symbol: object) -> bool:
        return symbol in self._table()

    def __iter__(self) -> Iterator[str]:
        return iter(self._table())

    def __len__(self) -> int:
        return len(self._table())

    def extend(self, securities: Iterable[Security]) -> int:
        """Add or replace instruments (a user's file); returns how many. Process-wide."""
        added = {s.symbol: s for s in securities}
        with self._lock:
            self._extra.update(added)
            if self._data is not None:
                self._data.update(added)
        return len(added)

    def extend_from(self, path: str) -> int:
        """:meth:`extend` from a universe file; a bad row raises :class:`~.catalog.CatalogError`."""
        return self.extend(catalog.load(path))

    def reset(self) -> None:
        """Forget user instruments (tests)."""
        with self._lock:
            self._extra.clear()
            self._data = None


UNIVERSE: Final = Universe()


def security(symbol: str) -> Security | None:
    return UNIVERSE.get(symbol)


def lot_size(symbol: str) -> int:
    sec = UNIVERSE.get(symbol)
    return sec.lot_size if sec is not None else 1


__all__ = [
    "FX_TO_HKD",
    "UNIVERSE",
    "WARRANT_UNDERLYINGS",
    "Security",
    "Universe",
    "convert",
    "is_on_tick",
    "lot_size",
    "move_ticks",
    "round_to_tick",
    "security",
    "tick_size",
]
