"""Arguments of the quote calls, checked before anything is sent, and their wire forms.

Malformed symbols, empty or oversized lists, out-of-range counts and non-``SubType`` values are
refused with :class:`~lb_mcp.sdk.errors.InvalidArgument` (reliability.md §6 row 1); the helpers
at the end turn checked values into what the protobuf messages take.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Final

from lb_mcp.sdk.enums import SubType
from lb_mcp.sdk.errors import InvalidArgument

MAX_SYMBOLS: Final = 500  # per request, and subscribed symbols per account (docs)
MAX_COUNT: Final = 1000  # trades / candlesticks per request
_SYMBOL = re.compile(r"^\.?[A-Za-z0-9][A-Za-z0-9._-]{0,31}\.[A-Za-z]{2,8}$")


def check_symbol(value: object) -> str:
    if not isinstance(value, str) or not _SYMBOL.match(value):
        shown = repr(value)[:40]
        raise InvalidArgument(f"malformed symbol {shown}: expected TICKER.MARKET, e.g. 700.HK")
    return value


def check_symbols(values: Iterable[str]) -> list[str]:
    if isinstance(values, str | bytes):
        raise InvalidArgument("symbols must be a list of symbols, not a single string")
    symbols = [check_symbol(v) for v in values]
    if not symbols:
        raise InvalidArgument("symbols must not be empty")
    if len(symbols) > MAX_SYMBOLS:
        raise InvalidArgument(f"at most {MAX_SYMBOLS} symbols per request, got {len(symbols)}")
    return symbols


def check_count(value: int, what: str = "count") -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_COUNT:
        raise InvalidArgument(f"{what} must be an integer from 1 to {MAX_COUNT}")
    return value


def check_sub_types(values: Iterable[SubType]) -> set[SubType]:
    types = set()
    for value in values:
        if not isinstance(value, SubType):
            raise InvalidArgument(f"not a SubType: {value!r}")
        types.add(value)
    if not types:
        raise InvalidArgument("sub_types must not be empty")
    return types


def sub_symbol(symbol: str) -> str:
    """The SDK strips leading zeros of HK tickers in subscriptions (``00700.HK`` -> ``700.HK``)."""
    ticker, _, market = symbol.rpartition(".")
    if market.upper() == "HK" and ticker.isdigit():
        return f"{int(ticker)}.{market}"
    return symbol


__all__ = [
    "MAX_COUNT",
    "MAX_SYMBOLS",
    "check_count",
    "check_sub_types",
    "check_symbol",
    "check_symbols",
    "sub_symbol",
]
