"""The public face of ``lb_mcp.sdk``: what ``__all__`` promises is there, sorted, and official.

Callers write ``from lb_mcp.sdk import QuoteContext, OrderType`` exactly as they would with the
official ``longbridge.openapi``; module splits inside the SDK must not change that.
"""

from __future__ import annotations

import pytest

import lb_mcp.sdk as sdk

# The names users of the official Python SDK reach for first.
OFFICIAL = [
    "AdjustType",
    "Config",
    "Market",
    "OAuth",
    "OAuthBuilder",
    "OpenApiException",
    "OrderSide",
    "OrderStatus",
    "OrderType",
    "Period",
    "QuoteContext",
    "SubType",
    "TimeInForceType",
    "TopicType",
    "TradeContext",
]


def test_the_sdk_exports_are_sorted_and_unique() -> None:
    assert sdk.__all__ == sorted(set(sdk.__all__))


def test_every_exported_name_is_importable_from_the_package() -> None:
    namespace: dict[str, object] = {}
    exec("from lb_mcp.sdk import *", namespace)
    assert [name for name in sdk.__all__ if getattr(sdk, name, None) is None] == []
    assert sorted(k for k in namespace if k != "__builtins__") == sdk.__all__


def test_the_official_sdk_names_are_exported() -> None:
    assert [name for name in OFFICIAL if name not in sdk.__all__] == []


def test_the_official_names_really_are_the_official_sdks() -> None:
    official = pytest.importorskip("longbridge.openapi")
    assert [name for name in OFFICIAL if not hasattr(official, name)] == []


def test_names_shared_with_the_official_sdk_keep_their_member_names() -> None:
    official = pytest.importorskip("longbridge.openapi")
    for name in ["OrderSide", "OrderStatus", "OrderType", "TimeInForceType", "SubType"]:
        ours = {m for m in getattr(sdk, name).__members__ if m != "Unknown"}
        theirs = {m for m in dir(getattr(official, name)) if not m.startswith("_")}
        assert ours <= theirs, (name, sorted(ours - theirs))
