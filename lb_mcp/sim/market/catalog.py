"""The instrument catalogue file: ``universe.csv`` rows (built-in or a user's) into securities.

Columns (a header row first, in any order; extra columns are ignored)::

    symbol, name_en, name_cn, currency, exchange, lot, price, kind, approximate

``kind`` is ``stock``, ``etf`` or ``index`` (indices are quote-only), ``price`` the reference price
the simulated walk starts from (on the exchange's tick grid), ``approximate`` non-empty when a fact
of the row (a board lot, a name) is a plausible choice rather than a known one. ``name_cn`` may be
empty (the English name is used). A row that cannot be used raises :class:`CatalogError` naming the
file and line, so ``lb-mcp sim --universe FILE`` can say exactly what to fix.

Everything a row does not carry (share counts, EPS, BPS, dividend, listing date) is derived from
the symbol by a stable hash, so the same file always gives the same static info.
"""

from __future__ import annotations

import csv
import io
import zlib
from collections.abc import Iterator
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Final

from lb_mcp.sdk.enums import Market, market_of
from lb_mcp.sim.market.instrument import Security, is_on_tick

KINDS: Final = ("stock", "etf", "index")
REQUIRED: Final = ("symbol", "name_en", "currency", "exchange", "lot", "price")
_CURRENCIES: Final = {
    Market.US: "USD",
    Market.HK: "HKD",
    Market.CN: "CNY",
    Market.SG: "SGD",
}


class CatalogError(ValueError):
    """A universe file row that cannot be used: ``<file> line N: <what is wrong>``."""


def _board(symbol: str, market: Market, kind: str) -> str:
    ticker = symbol.rsplit(".", 1)[0]
    if kind == "index":
        if market is Market.US:
            return {
                ".DJI": "USDJI",
                ".SPX": "SPXIndex",
                ".VIX": "VIXIndex",
                ".IXIC": "USNSDQ",
                ".NDX": "USNSDQ",
            }.get(ticker, "USSector")
        return {Market.HK: "HKHS", Market.CN: "CNIX", Market.SG: "STI"}[market]
    if market is Market.HK:
        return "HKEquity"
    if market is Market.CN:
        if symbol.endswith(".SH"):
            return "SHSTAR" if ticker.startswith("688") else "SHMainConnect"
        return "SZGEMConnect" if ticker.startswith("300") else "SZMainConnect"
    if market is Market.SG:
        return "SGMain"
    return "USMain"


def _derived(symbol: str, price: Decimal, market: Market, kind: str) -> dict[str, object]:
    """Plausible fundamentals from a stable hash of the symbol (simulated, not real data)."""
    h = zlib.crc32(symbol.encode())
    shares = (h % 9000 + 500) * 1_000_000  # 0.5 bn .. 9.5 bn
    if kind != "stock":
        return {
            "total_shares": shares if kind == "etf" else 0,
            "circulating_shares": shares if kind == "etf" else 0,
            "hk_shares": shares if kind == "etf" and market is Market.HK else 0,
            "eps": Decimal(0),
            "eps_ttm": Decimal(0),
            "bps": Decimal(0),
            "dividend_yield": Decimal(0),
        }
    pe = Decimal(8 + h % 35)  # P/E 8 .. 42
    eps = (price / pe).quantize(Decimal("0.01"))
    return {
        "total_shares": shares,
        "circulating_shares": shares - shares // 10 * ((h >> 8) % 3),
        "hk_shares": shares if market is Market.HK else 0,
        "eps": eps,
        "eps_ttm": (eps * Decimal("1.04")).quantize(Decimal("0.01")),
        "bps": (price / Decimal(1 + (h >> 4) % 6)).quantize(Decimal("0.01")),
        "dividend_yield": (price * Decimal((h >> 12) % 50) / 1000).quantize(Decimal("0.01")),
    }


def parse_row(row: dict[str, str], where: str) -> Security:
    """One CSV row → a :class:`Security`; ``where`` (``file line N``) prefixes every error."""

    def fail(what: str) -> CatalogError:
        return CatalogError(f"{where}: {what}")

    cells = {k.strip().lower(): (v or "").strip() for k, v in row.items() if k is not None}
    for name in REQUIRED:
        if not cells.get(name):
            raise fail(f"column {name!r} is empty")
    symbol = cells["symbol"]
    if "." not in symbol.strip(".") or symbol != symbol.upper():
        raise fail(f"symbol {symbol!r} is not TICKER.REGION in upper case (e.g. MSFT.US)")
    market = market_of(symbol)
    if market not in _CURRENCIES:
        raise fail(f"symbol {symbol!r}: region must be US, HK, SH, SZ or SG")
    kind = cells.get("kind") or "stock"
    if kind not in KINDS:
        raise fail(f"kind {kind!r} must be one of {', '.join(KINDS)}")
    try:
        lot = int(cells["lot"])
    except ValueError:
        raise fail(f"lot {cells['lot']!r} is not a whole number") from None
    if lot <= 0:
        raise fail(f"lot {lot} must be positive")
    try:
        price = Decimal(cells["price"])
    except InvalidOperation:
        raise fail(f"price {cells['price']!r} is not a number") from None
    if not price.is_finite() or price <= 0:
        raise fail(f"price {cells['price']!r} must be positive")
    if kind != "index" and not is_on_tick(symbol, price):
        raise fail(f"price {price} is not on the tick grid of {symbol}")
    currency = cells["currency"].upper()
    if currency != _CURRENCIES[market]:
        raise fail(f"currency {currency!r} should be {_CURRENCIES[market]} for {symbol}")
    name_en = cells["name_en"]
    name_cn = cells.get("name_cn") or name_en
    h = zlib.crc32(symbol.encode())
    return Security(
        symbol=symbol,
        name_en=name_en,
        name_cn=name_cn,
        name_hk=name_cn,
        exchange=cells["exchange"],
        currency=currency,
        lot_size=lot,
        board=_board(symbol, market, kind),
        base_price=price,
        listing_date=f"{1990 + h % 34}{1 + (h >> 6) % 12:02d}{1 + (h >> 10) % 28:02d}",
        im_factor=Decimal("0.30"),
        mm_factor=Decimal("0.25"),
        fm_factor=Decimal("0.20"),
        kind=kind,
        approximate=bool(cells.get("approximate")),
        **_derived(symbol, price, market, kind),  # type: ignore[arg-type]
    )


def parse(text: str, source: str) -> Iterator[Security]:
    """Every row of a universe file's ``text`` (``source`` names it in errors)."""
    reader = csv.DictReader(io.StringIO(text))
    header = [h.strip().lower() for h in reader.fieldnames or ()]
    missing = [name for name in REQUIRED if name not in header]
    if missing:
        raise CatalogError(f"{source} line 1: header lacks column(s) {', '.join(missing)}")
    seen: set[str] = set()
    for row in reader:
        where = f"{source} line {reader.line_num}"
        if None in row:
            raise CatalogError(f"{where}: more cells than header columns")
        if not any((v or "").strip() for v in row.values()):
            continue
        sec = parse_row(row, where)
        if sec.symbol in seen:
            raise CatalogError(f"{where}: symbol {sec.symbol} appears twice")
        seen.add(sec.symbol)
        yield sec


def load(path: str | Path) -> list[Security]:
    """A user's universe file (UTF-8 CSV); unreadable files are a :class:`CatalogError` too."""
    try:
        text = Path(path).read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise CatalogError(
            f"{path}: cannot read universe file ({exc.__class__.__name__})"
        ) from None
    return list(parse(text, str(path)))


__all__ = ["KINDS", "CatalogError", "load", "parse", "parse_row"]
