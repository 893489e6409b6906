"""One cause, one code, in every tool: the same bad input gives the same stable error code.

The walk takes the tools from ``tools/list`` (so a tool added later is walked too) and gives each
the same bad inputs: an unknown symbol, an unknown order id, a malformed date, a start after the
end and an unknown enum value; the rest of its required arguments are valid.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from lb_mcp.sdk.errors import ApiError, OrderError, RateLimitError
from lb_mcp.server.errors import ToolFailure, canonical_code, map_exception
from lb_mcp.server.output import unwrap_text

from .appkit import connected

pytestmark = pytest.mark.anyio

VALID: dict[str, Any] = {
    "symbol": "700.HK",
    "symbols": ["700.HK"],
    "market": "HK",
    "begin": "2025-11-03",
    "end": "2025-11-07",
    "side": "Buy",
    "quantity": "100",
    "price": "400",
    "order_id": "700000001",
}
DATE_PAIRS = [("start", "end"), ("start_date", "end_date"), ("begin", "end")]
# Arguments that filter the account's own records (or remove from a set): an unknown symbol or
# order id there matches nothing, which is an answer and not an error.
FILTERS = {
    "stock_positions",
    "fund_positions",
    "cash_flow",
    "history_executions",
    "today_orders",
    "history_orders",
    "today_executions",
    "unsubscribe",
}
# Every argument with one of these names takes one of a few values: its schema must say which.
ENUM_LIKE = {
    "side",
    "status",
    "period",
    "market",
    "order_type",
    "time_in_force",
    "kind",
    "sort_by",
    "category",
    "currency",
    "adjust_type",
    "moneyness",
    "types",
}


def _enum_of(schema: dict[str, Any]) -> list[Any] | None:
    if "enum" in schema:
        return list(schema["enum"])
    if "const" in schema:
        return [schema["const"]]
    for option in schema.get("anyOf", []):
        found = _enum_of(option)
        if found is not None:
            return found
    items = schema.get("items")
    return _enum_of(items) if isinstance(items, dict) else None


def _is_list(schema: dict[str, Any]) -> bool:
    return schema.get("type") == "array" or any(
        o.get("type") == "array" for o in schema.get("anyOf", [])
    )


def _base(props: dict[str, Any], required: list[str]) -> dict[str, Any]:
    args = {k: VALID[k] for k in required}
    if "price" in props:
        args["price"] = VALID["price"]
    return args


def _code(result: Any) -> str | None:
    if not result.is_error:
        return None
    code = (result.structured_content or {})["error"]["code"]
    text = unwrap_text(result.content[0].text)
    assert text.startswith(f"[{code}]")
    assert "Traceback" not in text
    return str(code)


async def _walk(client: Any) -> list[tuple[str, str, str | None, str]]:
    """(tool, case, code or None, expected) for every bad input every tool accepts."""
    seen: list[tuple[str, str, str | None, str]] = []
    for tool in (await client.list_tools()).tools:
        props: dict[str, Any] = tool.input_schema.get("properties", {})
        base = _base(props, tool.input_schema.get("required", []))
        cases: list[tuple[str, dict[str, Any], str]] = []
        if "symbol" in props:
            cases.append(("unknown symbol", {**base, "symbol": "ZZZZ.HK"}, "UNKNOWN_SYMBOL"))
        if "symbols" in props:
            cases.append(("unknown symbols", {**base, "symbols": ["ZZZZ.HK"]}, "UNKNOWN_SYMBOL"))
        if "order_id" in props:
            cases.append(("unknown order", {**base, "order_id": "123"}, "UNKNOWN_ORDER"))
        for start, end in DATE_PAIRS:
            if start in props and end in props:
                swapped = {**base, start: "2025-11-07", end: "2025-11-01"}
                cases.append(("start after end", swapped, "INVALID_ARGUMENT"))
                bad = {**base, start: "yesterday", end: "2025-11-01"}
                cases.append(("bad date", bad, "INVALID_ARGUMENT"))
        for name, schema in props.items():
            if _enum_of(schema) is not None:
                value: Any = ["Nope"] if _is_list(schema) else "Nope"
                cases.append((f"bad {name}", {**base, name: value}, "INVALID_ARGUMENT"))
        for case, args, expected in cases:
            result = await client.call_tool(tool.name, args)
            seen.append((tool.name, case, _code(result), expected))
    return seen


async def test_every_tool_gives_one_code_per_cause(tmp_path: Path) -> None:
    async with connected(tmp_path, "legacy") as (_, client):
        seen = await _walk(client)
    tools = {t for t, *_ in seen}
    assert {"quote", "margin_ratio", "order_detail", "cancel_order", "submit_order"} <= tools
    wrong = [
        (tool, case, code)
        for tool, case, code, expected in seen
        if code != expected and not (code is None and tool in FILTERS and "unknown" in case)
    ]
    assert wrong == []
    assert not any(code in ("ORDER_REJECTED", "BROKER_ERROR") for _, _, code, _ in seen)


async def test_every_enum_like_argument_is_an_enum_in_the_schema(tmp_path: Path) -> None:
    async with connected(tmp_path, "legacy") as (_, client):
        tools = (await client.list_tools()).tools
    missing = [
        (t.name, name)
        for t in tools
        for name, schema in t.input_schema.get("properties", {}).items()
        if name in ENUM_LIKE and _enum_of(schema) is None
    ]
    assert missing == []


def test_broker_codes_map_to_one_vocabulary() -> None:
    unknown_order = OrderError("order not found", code=602023)
    assert map_exception(unknown_order).code == "UNKNOWN_ORDER"
    assert map_exception(unknown_order, order_tool=True).code == "UNKNOWN_ORDER"
    refused = OrderError("insufficient funds", code=602001)
    assert map_exception(refused).code == "INVALID_ARGUMENT"
    assert map_exception(refused, order_tool=True).code == "ORDER_REJECTED"
    assert map_exception(ApiError("symbol not found: 'X.HK'", code=301600)).code == (
        "UNKNOWN_SYMBOL"
    )
    assert map_exception(ApiError("token expired", code=401003)).code == "AUTH_FAILED"
    assert canonical_code("BROKER_602023") == ("UNKNOWN_ORDER", 602023)
    assert canonical_code("NO_INSTRUMENT") == ("UNKNOWN_SYMBOL", None)
    assert ToolFailure("BAD_ARGUMENT", "x").code == "INVALID_ARGUMENT"


def test_rate_limits_carry_a_structured_retry_after() -> None:
    limited = RateLimitError("api request is limited", code=429002, retry_after_s=2.5)
    error = map_exception(limited).as_dict()
    assert (error["code"], error["retry_after_s"]) == ("RATE_LIMITED", 2.5)
    assert error["retryable"] is True
    assert error["broker_code"] == 429002


async def test_order_status_filter_takes_the_names_a_person_uses(tmp_path: Path) -> None:
    from mcp import Client

    from .appkit import make_server, running_sim, settings_for
    from .orders_support import AUTO_LIMITS

    async with running_sim() as sim:
        server = make_server(sim, settings_for(tmp_path, **AUTO_LIMITS))
        async with Client(server, mode="legacy") as client:
            order = {
                "symbol": "700.HK",
                "side": "Buy",
                "quantity": "100",
                "price": "405",
            }  # at the ask
            placed = await client.call_tool("submit_order", order)
            assert placed.structured_content["status"] == "placed"
            filled = await client.call_tool("today_orders", {"status": ["Filled"]})
            rows = filled.structured_content["orders"]
            assert [r["order_id"] for r in rows] == [placed.structured_content["order_id"]]
            assert rows[0]["status"] == "Filled"
            none = await client.call_tool("today_orders", {"status": ["New"]})
            assert none.structured_content["orders"] == []
            wire = await client.call_tool("today_orders", {"status": ["FilledStatus"]})
            assert _code(wire) == "INVALID_ARGUMENT"


def test_status_names_cover_every_order_status() -> None:
    from typing import get_args

    from lb_mcp.sdk.enums import OrderStatus
    from lb_mcp.server.output import StatusName, parse_status, status_name

    names = set(get_args(StatusName))
    assert names == {s.name for s in OrderStatus if s is not OrderStatus.Unknown}
    assert all(parse_status(status_name(s)) is s for s in OrderStatus if s.name in names)
