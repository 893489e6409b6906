"""Scalar forms of the socket protocol's protobuf fields, shared by the client and the simulator.

Decimals travel as plain strings without an exponent, dates as ``YYYYMMDD``, enums as numbers.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from decimal import Decimal
from typing import Any


def pb_enum(value: int) -> Any:
    """A protobuf enum field takes a plain number (the stubs only admit the wrapper type)."""
    return int(value)


def pb_enum_list(values: Iterable[int]) -> Any:
    return sorted(int(v) for v in values)


def ymd(value: date) -> str:
    return value.strftime("%Y%m%d")


def text(value: Decimal) -> str:
    """Wire text of a decimal: no exponent, no negative zero."""
    out = format(value, "f")
    return "0" if out in ("-0", "") else out


__all__ = ["pb_enum", "pb_enum_list", "text", "ymd"]
