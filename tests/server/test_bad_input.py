"""Bad input to every tool gives a tool error with a stable code, and the server keeps serving."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from lb_mcp.server.output import unwrap_text

from .appkit import MODES, connected

pytestmark = pytest.mark.anyio

HUGE = "A" * 100_000

BAD_CALLS: list[tuple[str, dict[str, Any], str]] = [
    ("quote", {"symbols": []}, "INVALID_ARGUMENT"),
    ("quote", {"symbols": ["ZZZZ.HK"]}, "UNKNOWN_SYMBOL"),
    ("quote", {"symbols": [HUGE]}, "INVALID_ARGUMENT"),
    ("quote", {"symbols": ["700.HK"] * 501}, "INVALID_ARGUMENT"),
    ("quote", {"symbols": ["not a symbol"]}, "BAD_SYMBOL"),
    ("quote", {}, "INVALID_ARGUMENT"),
    ("static_info", {"symbols": ["ZZZZ.HK"]}, "UNKNOWN_SYMBOL"),
    ("static_info", {"symbols": "700.HK"}, "INVALID_ARGUMENT"),
    ("depth", {"symbol": "ZZZZ.HK"}, "UNKNOWN_SYMBOL"),
    ("depth", {}, "INVALID_ARGUMENT"),
    ("trades", {"symbol": "700.HK", "count": -1}, "INVALID_ARGUMENT"),
    ("trades", {"symbol": "700.HK", "count": "many"}, "INVALID_ARGUMENT"),
    ("intraday", {"symbol": HUGE}, "INVALID_ARGUMENT"),
    ("candlesticks", {"symbol": "700.HK", "period": "2h"}, "INVALID_ARGUMENT"),
    ("candlesticks", {"symbol": "700.HK", "count": 100_000}, "INVALID_ARGUMENT"),
    (
        "trading_days",
        {"market": "HK", "begin": "2025-12-01", "end": "2025-11-01"},
        "INVALID_ARGUMENT",
    ),
    (
        "trading_days",
        {"market": "HK", "begin": "yesterday", "end": "2025-11-01"},
        "INVALID_ARGUMENT",
    ),
    (
        "trading_days",
        {"market": "MARS", "begin": "2025-11-01", "end": "2025-11-02"},
        "INVALID_ARGUMENT",
    ),
    ("account_balance", {"currency": "dollars"}, "INVALID_ARGUMENT"),
    ("stock_positions", {"symbols": []}, "INVALID_ARGUMENT"),
    ("fund_positions", {"symbols": [HUGE]}, "INVALID_ARGUMENT"),
    ("margin_ratio", {}, "INVALID_ARGUMENT"),
    ("cash_flow", {"start": "2025-13-40"}, "INVALID_ARGUMENT"),
    ("cash_flow", {"size": 0}, "INVALID_ARGUMENT"),
    (
        "estimate_max_purchase_quantity",
        {"symbol": "700.HK", "side": "Buy", "price": "-5"},
        "INVALID_ARGUMENT",
    ),
    (
        "estimate_max_purchase_quantity",
        {"symbol": "700.HK", "side": "Buy", "price": "NaN"},
        "INVALID_ARGUMENT",
    ),
    (
        "estimate_max_purchase_quantity",
        {"symbol": "700.HK", "side": "Buy", "price": "1e3"},
        "INVALID_ARGUMENT",
    ),
    (
        "estimate_max_purchase_quantity",
        {"symbol": "700.HK", "side": "Buy", "price": "Infinity"},
        "INVALID_ARGUMENT",
    ),
    ("estimate_max_purchase_quantity", {"symbol": "700.HK", "side": "Buy"}, "INVALID_ARGUMENT"),
    (
        "estimate_max_purchase_quantity",
        {"symbol": "700.HK", "side": "Hold", "price": "1"},
        "INVALID_ARGUMENT",
    ),
    ("subscribe", {"symbols": ["ZZZZ.HK"]}, "UNKNOWN_SYMBOL"),
    ("subscribe", {"symbols": []}, "INVALID_ARGUMENT"),
    ("unsubscribe", {}, "INVALID_ARGUMENT"),
    ("poll_quotes", {"cursor": 0}, "NOT_SUBSCRIBED"),
    ("poll_quotes", {"cursor": -1}, "INVALID_ARGUMENT"),
    ("poll_quotes", {"cursor": 0, "wait_s": 3600}, "INVALID_ARGUMENT"),
    ("poll_quotes", {"cursor": 0, "wait_s": "NaN"}, "INVALID_ARGUMENT"),
    ("no_such_tool", {}, "UNKNOWN_TOOL"),
]


@pytest.mark.parametrize("mode", MODES)
async def test_bad_input_is_a_coded_tool_error_and_the_server_keeps_serving(
    tmp_path: Path, mode: str
) -> None:
    async with connected(tmp_path, mode) as (_, client):
        for name, args, code in BAD_CALLS:
            result = await client.call_tool(name, args)
            assert result.is_error, (name, args)
            error = (result.structured_content or {})["error"]
            assert error["code"] == code, (name, error)
            text = unwrap_text(result.content[0].text)
            assert text.startswith(f"[{code}]")
            assert "Traceback" not in text and HUGE[:50] not in text
            ok = await client.call_tool("status", {})
            assert not ok.is_error
