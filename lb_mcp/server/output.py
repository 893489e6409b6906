"""Shared output and input types for tool results: exact money, UTC times, defanged broker text.

* ``Money`` / ``Qty``: ``Decimal`` in Python, a plain decimal **string** on the wire
  (``"412.35"``, never ``4.1235E+2``), and the JSON schema says ``string`` so that the
  ``outputSchema`` and the ``structuredContent`` agree (mcp.md §3.2).
* ``UtcTime``: timezone-aware, serialized as ISO 8601 with a ``Z`` suffix.
* ``BrokerText``: text that came from the broker (names, messages, remarks). It is data for the
  model, never instructions: control and bidi-override characters are removed, newlines are
  flattened and the length is capped, so a hostile name cannot forge structure in the output.
* ``unwrap_text``: what a result's text envelope holds (``json.loads`` it for the JSON); for
  tests and clients, since every result's text arrives as ``<untrusted-broker-data-…>`` (see
  ``text``).
* ``parse_decimal_arg``: strict decimal input (plain digits, optional fraction; no NaN, Inf,
  exponent or sign) for tool arguments that carry money or quantities as strings.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from mcp_types import ToolAnnotations
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, PlainSerializer, WithJsonSchema

from lb_mcp.sdk.enums import OrderStatus, Period
from lb_mcp.server.errors import ToolFailure
from lb_mcp.server.gate.intent import IntentError, normalize_symbol
from lb_mcp.server.text import MAX_TEXT, clean_text, unwrap_text

DECIMAL_PATTERN = r"^-?[0-9]+(\.[0-9]+)?$"

# Candle periods by their tool-argument names. Here, not in tools/quote.py: the chart tool is
# declared before ``initialize`` and must not import the tool modules (cold start).
PERIODS: dict[str, Period] = {
    "1m": Period.Min_1,
    "5m": Period.Min_5,
    "15m": Period.Min_15,
    "30m": Period.Min_30,
    "60m": Period.Min_60,
    "day": Period.Day,
    "week": Period.Week,
    "month": Period.Month,
    "year": Period.Year,
}
PeriodArg = Literal["1m", "5m", "15m", "30m", "60m", "day", "week", "month", "year"]
_ARG_DECIMAL_RE = re.compile(r"^[0-9]{1,15}(\.[0-9]{1,10})?$")


def decimal_text(value: Decimal) -> str:
    """Fixed-point text of a finite decimal; ``-0`` becomes ``0``; trailing zeros kept as given."""
    if not value.is_finite():
        raise ValueError("decimal must be finite")
    text = format(value, "f")
    return "0" if text in ("-0", "-0.0") or (text.startswith("-") and value == 0) else text


def _utc_text(value: datetime) -> str:
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


Money = Annotated[
    Decimal,
    PlainSerializer(decimal_text, return_type=str, when_used="always"),
    WithJsonSchema(
        {"type": "string", "pattern": DECIMAL_PATTERN, "description": "exact decimal as a string"}
    ),
]
Qty = Money
UtcTime = Annotated[
    datetime,
    PlainSerializer(_utc_text, return_type=str, when_used="always"),
    WithJsonSchema({"type": "string", "format": "date-time", "description": "UTC, ISO 8601"}),
]
BrokerText = Annotated[str, AfterValidator(clean_text)]


class Out(BaseModel):
    """Base of every tool result model: frozen, and unknown fields are a programming error."""

    model_config = ConfigDict(frozen=True, extra="forbid")


def parse_decimal_arg(value: Any, what: str, *, positive: bool = True) -> Decimal:
    """A decimal tool argument given as a string (or an int), refused when malformed.

    Floats are refused because they cannot carry a price exactly; the model is told to send a
    string such as ``"412.2"``.
    """
    if isinstance(value, bool) or value is None:
        raise ToolFailure("INVALID_ARGUMENT", f'{what} must be a decimal string such as "100"')
    if isinstance(value, int):
        text = str(value)
    elif isinstance(value, str):
        text = value.strip()
    else:
        raise ToolFailure(
            "INVALID_ARGUMENT", f'{what} must be a decimal string such as "412.2", not a number'
        )
    if text.startswith("-"):
        raise ToolFailure("INVALID_ARGUMENT", f"{what} must not be negative")
    if not _ARG_DECIMAL_RE.match(text):
        raise ToolFailure(
            "INVALID_ARGUMENT",
            f'{what} must be a plain decimal such as "100" or "412.2" '
            "(no exponent, NaN, Infinity or sign)",
        )
    number = Decimal(text)
    if positive and number <= 0:
        raise ToolFailure("INVALID_ARGUMENT", f"{what} must be greater than 0")
    return number


def parse_date_arg(text: str, what: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ToolFailure("INVALID_ARGUMENT", f"{what} must be a date YYYY-MM-DD") from None


# --- inputs ---------------------------------------------------------------------------------

MAX_SYMBOLS_ARG = 500
SymbolArg = Annotated[
    str,
    # The symbol format is explained once, in the server's instructions.
    Field(min_length=1, max_length=32),
]
SymbolsArg = Annotated[
    list[Annotated[str, Field(max_length=32)]],
    Field(min_length=1, max_length=MAX_SYMBOLS_ARG),
]
TextArg = Annotated[str, Field(max_length=MAX_TEXT)]


def parse_symbol(symbol: str) -> str:
    try:
        return normalize_symbol(symbol)
    except IntentError as exc:
        raise ToolFailure(exc.code, f"{exc.message}; got an invalid symbol") from None


def parse_symbols(symbols: list[str]) -> list[str]:
    """Normalised, de-duplicated (order kept), 1..500 symbols; ``BAD_SYMBOL`` otherwise."""
    if not symbols:
        raise ToolFailure("INVALID_ARGUMENT", 'give at least one symbol, e.g. ["700.HK"]')
    if len(symbols) > MAX_SYMBOLS_ARG:
        raise ToolFailure("INVALID_ARGUMENT", f"at most {MAX_SYMBOLS_ARG} symbols per call")
    out: dict[str, None] = {}
    for raw in symbols:
        out[parse_symbol(raw)] = None
    return list(out)


# Order statuses by the names a person uses ("Filled"); the wire says "FilledStatus".
StatusName = Literal[
    "NotReported",
    "ReplacedNotReported",
    "ProtectedNotReported",
    "VarietiesNotReported",
    "DelayedNotReported",
    "WaitToNew",
    "New",
    "PartialFilled",
    "Filled",
    "WaitToReplace",
    "PendingReplace",
    "Replaced",
    "WaitToCancel",
    "PendingCancel",
    "Canceled",
    "Rejected",
    "Expired",
    "PartialWithdrawal",
]


def status_name(status: OrderStatus) -> str:
    """The person's name of an order status: ``FilledStatus`` -> ``Filled``."""
    return status.name


def parse_status(name: str) -> OrderStatus:
    """``Filled`` -> ``OrderStatus.Filled``; an unknown name is ``INVALID_ARGUMENT``."""
    member = OrderStatus.__members__.get(name)
    if member is None or member is OrderStatus.Unknown:
        raise ToolFailure("INVALID_ARGUMENT", "status must be an order status such as Filled")
    return member


# --- tool annotations (hints for clients' approval UIs; never the safety mechanism) -----------

READ_BROKER = ToolAnnotations(
    read_only_hint=True, destructive_hint=False, idempotent_hint=True, open_world_hint=True
)
READ_LOCAL = ToolAnnotations(
    read_only_hint=True, destructive_hint=False, idempotent_hint=True, open_world_hint=False
)
SUBSCRIBE = ToolAnnotations(
    read_only_hint=False, destructive_hint=False, idempotent_hint=True, open_world_hint=True
)


__all__ = [
    "MAX_SYMBOLS_ARG",
    "MAX_TEXT",
    "PERIODS",
    "READ_BROKER",
    "READ_LOCAL",
    "SUBSCRIBE",
    "BrokerText",
    "Money",
    "Out",
    "PeriodArg",
    "Qty",
    "StatusName",
    "SymbolArg",
    "SymbolsArg",
    "TextArg",
    "UtcTime",
    "clean_text",
    "decimal_text",
    "parse_date_arg",
    "parse_decimal_arg",
    "parse_status",
    "parse_symbol",
    "parse_symbols",
    "status_name",
    "unwrap_text",
]
