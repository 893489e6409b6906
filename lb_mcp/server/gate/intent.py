"""The canonical order intent and its digest.

A confirmation is bound to ``OrderIntent.digest()``: the SHA-256 of a canonical JSON rendering in
which symbols, enums and decimals have exactly one spelling. ``Decimal("100.0")``,
``Decimal("1E+2")`` and ``Decimal("100")`` hash equal; ``00700.HK`` and ``700.hk`` are the same
symbol. Anything that changes what would reach the broker (price, quantity, side, type, mode, the
order being replaced...) changes the digest, so an approval cannot be reused for another order.

Construction rejects values no guard could reason about (floats, NaN, Inf, malformed symbols)
with an ``IntentError`` carrying a stable code; business rules (lot, tick, limits) are the
guards' job and stay out of here.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, fields
from datetime import date
from decimal import Decimal
from typing import Any

from lb_mcp.sdk.enums import (
    Market,
    Mode,
    OrderSide,
    OrderType,
    OutsideRTH,
    TimeInForceType,
    market_of,
)

# Ticker: letters, digits, dots (BRK.B.US, .IXIC.US), dashes; region: two letters.
_SYMBOL_RE = re.compile(r"^[A-Z0-9.\-]{1,28}\.[A-Z]{2}$")
_ORDER_ID_RE = re.compile(r"^[0-9A-Za-z_\-]{1,64}$")
_CANONICAL_VERSION = 1
_MAX_INT_DIGITS = 12
_MAX_FRACTION_DIGITS = 8
# Our ``lbmcp:<32 hex>`` prefix takes 38 of the 64 characters the SDK allows; a space and this.
MAX_REMARK = 25
_REMARK_RE = re.compile(rf"^[0-9A-Za-z _\-.:/#]{{1,{MAX_REMARK}}}$")
_CONDITIONAL = ("trigger_price", "trailing_amount", "trailing_percent", "limit_offset")


class IntentError(ValueError):
    """An order intent that cannot even be represented. ``code`` is stable upper-snake."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def normalize_symbol(symbol: str) -> str:
    """Upper-case, trim, and strip HK leading zeros (``00700.hk`` -> ``700.HK``)."""
    if not isinstance(symbol, str):
        raise IntentError("BAD_SYMBOL", "symbol must be a string like 700.HK or AAPL.US")
    text = symbol.strip().upper()
    if not _SYMBOL_RE.match(text):
        raise IntentError("BAD_SYMBOL", "symbol must look like 700.HK or AAPL.US")
    ticker, region = text.rsplit(".", 1)
    if region == "HK" and ticker.isdigit():
        ticker = ticker.lstrip("0") or "0"
    return f"{ticker}.{region}"


def canonical_decimal(value: Decimal) -> str:
    """One spelling per value: no exponent, no trailing zeros, no negative zero."""
    if not isinstance(value, Decimal) or not value.is_finite():
        raise IntentError("BAD_DECIMAL", "expected a finite Decimal")
    if value.is_zero():
        return "0"
    return format(value.normalize(), "f")


def _check_decimal(value: object, code: str, what: str) -> Decimal:
    # A float already lost the exact value the human typed; refuse rather than guess.
    if isinstance(value, bool) or not isinstance(value, Decimal):
        raise IntentError(code, f"{what} must be a Decimal, not {type(value).__name__}")
    if not value.is_finite():
        raise IntentError(code, f"{what} must be a finite number")
    # Bounded magnitude and precision keep every later Decimal operation exact and cheap
    # (``1E+100 % 100`` raises InvalidOperation at the default 28-digit context).
    if not value.is_zero() and value.adjusted() >= _MAX_INT_DIGITS:
        raise IntentError(code, f"{what} is too large")
    if value.normalize().as_tuple().exponent < -_MAX_FRACTION_DIGITS:  # type: ignore[operator]
        raise IntentError(code, f"{what} has too many decimal places")
    return value


def _enum(cls: type[Any], value: object, what: str) -> Any:
    try:
        member = cls(value)
    except ValueError:
        raise IntentError("BAD_ARGUMENT", f"{what} has an unknown value") from None
    if member.name == "Unknown":
        raise IntentError("BAD_ARGUMENT", f"{what} has an unknown value")
    return member


@dataclass(frozen=True)
class OrderIntent:
    """What the human is asked to approve, in canonical form. Immutable after construction."""

    symbol: str
    side: OrderSide
    order_type: OrderType
    quantity: Decimal
    price: Decimal | None
    time_in_force: TimeInForceType
    outside_rth: OutsideRTH | None
    mode: Mode
    replace_of: str | None = None
    expire_date: date | None = None
    # Conditional orders (LIT/MIT: trigger_price; TSLPAMT/TSLPPCT: trailing_*, limit_offset).
    trigger_price: Decimal | None = None
    trailing_amount: Decimal | None = None
    trailing_percent: Decimal | None = None
    limit_offset: Decimal | None = None
    remark: str | None = None  # the requester's note, sent after our ``lbmcp:<id>`` prefix

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        set_(self, "symbol", normalize_symbol(self.symbol))
        set_(self, "side", _enum(OrderSide, self.side, "side"))
        set_(self, "order_type", _enum(OrderType, self.order_type, "order_type"))
        set_(self, "time_in_force", _enum(TimeInForceType, self.time_in_force, "time_in_force"))
        if self.outside_rth is not None:
            set_(self, "outside_rth", _enum(OutsideRTH, self.outside_rth, "outside_rth"))
        try:
            set_(self, "mode", Mode(self.mode))
        except ValueError:
            raise IntentError("BAD_ARGUMENT", "mode must be sandbox or live") from None
        _check_decimal(self.quantity, "BAD_QUANTITY", "quantity")
        if self.price is not None:
            _check_decimal(self.price, "BAD_PRICE", "price")
        if self.replace_of is not None and not (
            isinstance(self.replace_of, str) and _ORDER_ID_RE.match(self.replace_of)
        ):
            raise IntentError("BAD_ARGUMENT", "replace_of must be an order id")
        if self.expire_date is not None and not isinstance(self.expire_date, date):
            raise IntentError("BAD_ARGUMENT", "expire_date must be a date")
        for name in _CONDITIONAL:
            value = getattr(self, name)
            if value is not None:
                _check_decimal(value, f"BAD_{name.upper()}", name)
        if self.remark is not None:
            self.check_remark(self.remark)

    @staticmethod
    def check_remark(remark: object) -> None:
        if not (isinstance(remark, str) and _REMARK_RE.match(remark)):
            raise IntentError(
                "BAD_REMARK", f"remark must be 1-{MAX_REMARK} letters, digits, spaces or -_.:/#"
            )

    @property
    def market(self) -> Market:
        return market_of(self.symbol)

    @property
    def is_replace(self) -> bool:
        return self.replace_of is not None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready mapping with canonical strings (the body of ``canonical_json``)."""
        body: dict[str, Any] = {
            "v": _CANONICAL_VERSION,
            "symbol": self.symbol,
            "side": self.side.value,
            "order_type": self.order_type.value,
            "quantity": canonical_decimal(self.quantity),
            "price": None if self.price is None else canonical_decimal(self.price),
            "time_in_force": self.time_in_force.value,
            "outside_rth": None if self.outside_rth is None else self.outside_rth.value,
            "mode": self.mode.value,
            "replace_of": self.replace_of,
            "expire_date": None if self.expire_date is None else self.expire_date.isoformat(),
        }
        # Conditional fields appear only when set, so a plain order keeps its digest.
        for name in _CONDITIONAL:
            value = getattr(self, name)
            if value is not None:
                body[name] = canonical_decimal(value)
        if self.remark is not None:
            body["remark"] = self.remark
        return body

    def canonical_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"), ensure_ascii=True)

    def digest(self) -> str:
        """Hex SHA-256 of ``canonical_json()``: the identity a confirmation is bound to."""
        return hashlib.sha256(self.canonical_json().encode("ascii")).hexdigest()

    @classmethod
    def from_canonical_json(cls, text: str) -> OrderIntent:
        """Inverse of ``canonical_json`` (used when the journal replays intents on start)."""
        data = json.loads(text)
        if not isinstance(data, dict) or data.get("v") != _CANONICAL_VERSION:
            raise IntentError("BAD_ARGUMENT", "not a canonical intent")
        names = {f.name for f in fields(cls)}
        optional = {*_CONDITIONAL, "remark"}
        if not names - optional <= set(data) - {"v"} <= names:
            raise IntentError("BAD_ARGUMENT", "canonical intent has unexpected fields")
        extra: dict[str, Any] = {
            name: Decimal(data[name]) for name in _CONDITIONAL if data.get(name) is not None
        }
        return cls(
            symbol=data["symbol"],
            side=data["side"],
            order_type=data["order_type"],
            quantity=Decimal(data["quantity"]),
            price=None if data["price"] is None else Decimal(data["price"]),
            time_in_force=data["time_in_force"],
            outside_rth=data["outside_rth"],
            mode=data["mode"],
            replace_of=data["replace_of"],
            expire_date=(
                None if data["expire_date"] is None else date.fromisoformat(data["expire_date"])
            ),
            remark=data.get("remark"),
            **extra,
        )


__all__ = ["MAX_REMARK", "IntentError", "OrderIntent", "canonical_decimal", "normalize_symbol"]
