from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest

from lb_mcp.sdk.enums import Mode, OrderSide, OrderType, TimeInForceType
from lb_mcp.server.gate.intent import IntentError, OrderIntent, canonical_decimal, normalize_symbol


def intent(**overrides: Any) -> OrderIntent:
    fields: dict[str, Any] = {
        "symbol": "700.HK",
        "side": OrderSide.Buy,
        "order_type": OrderType.LO,
        "quantity": Decimal("100"),
        "price": Decimal("320"),
        "time_in_force": TimeInForceType.Day,
        "outside_rth": None,
        "mode": Mode.SANDBOX,
    }
    fields.update(overrides)
    return OrderIntent(**fields)


def test_equal_decimals_in_different_spellings_hash_equal() -> None:
    a = intent(quantity=Decimal("100"), price=Decimal("320"))
    b = intent(quantity=Decimal("1E+2"), price=Decimal("320.000"))
    c = intent(quantity=Decimal("100.0"), price=Decimal("3.2E+2"))
    assert a.digest() == b.digest() == c.digest()
    assert json.loads(a.canonical_json())["quantity"] == "100"
    assert canonical_decimal(Decimal("-0.0")) == "0"
    assert canonical_decimal(Decimal("0.10")) == "0.1"


def test_hk_symbols_lose_leading_zeros_and_all_symbols_are_upper_cased() -> None:
    assert normalize_symbol(" 00700.hk ") == "700.HK"
    assert normalize_symbol("aapl.us") == "AAPL.US"
    assert normalize_symbol("000001.SZ") == "000001.SZ"  # only HK tickers are stripped
    assert intent(symbol="00700.HK").digest() == intent(symbol="700.hk").digest()


def test_wire_strings_and_enum_members_give_the_same_intent() -> None:
    assert intent(side="Buy", order_type="LO", time_in_force="Day", mode="sandbox") == intent()


@pytest.mark.parametrize(
    "change",
    [
        {"price": Decimal("320.2")},
        {"quantity": Decimal("200")},
        {"side": OrderSide.Sell},
        {"order_type": OrderType.ELO},
        {"mode": Mode.LIVE},
        {"replace_of": "706388312699592704"},
        {"symbol": "9988.HK"},
    ],
)
def test_any_change_that_reaches_the_broker_changes_the_digest(change: dict[str, Any]) -> None:
    assert intent(**change).digest() != intent().digest()


def test_the_canonical_json_round_trips() -> None:
    original = intent(replace_of="1", price=Decimal("320.20"))
    assert OrderIntent.from_canonical_json(original.canonical_json()) == original


@pytest.mark.parametrize(
    ("overrides", "code"),
    [
        ({"symbol": "700"}, "BAD_SYMBOL"),
        ({"symbol": "700.HK; DROP"}, "BAD_SYMBOL"),
        ({"side": "Up"}, "BAD_ARGUMENT"),
        ({"side": "UnknownSide"}, "BAD_ARGUMENT"),
        ({"mode": "paper"}, "BAD_ARGUMENT"),
        ({"quantity": 100}, "BAD_QUANTITY"),
        ({"price": Decimal("Infinity")}, "BAD_PRICE"),
        ({"replace_of": "../etc"}, "BAD_ARGUMENT"),
        ({"quantity": Decimal("1E+100")}, "BAD_QUANTITY"),
        ({"price": Decimal("1E-30")}, "BAD_PRICE"),
    ],
)
def test_unrepresentable_intents_are_refused_with_a_code(
    overrides: dict[str, Any], code: str
) -> None:
    with pytest.raises(IntentError) as info:
        intent(**overrides)
    assert info.value.code == code
