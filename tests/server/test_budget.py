"""Every tool result fits an LLM's context, and ``tools/list`` stays lean (``budget.py``).

Through the in-process MCP client, as an agent meets them: every tool called with its largest
allowed arguments stays within its budget, long series are trimmed from their oldest end with a
count, ``poll_quotes`` pages by the budget without losing an update, and the published schemas
are small, valid and still accept every payload.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from lb_mcp.server import budget
from lb_mcp.server.output import unwrap_text
from lb_mcp.server.text import escape_for_envelope
from lb_mcp.sim.market.universe import UNIVERSE

from .appkit import MODES, connected, step

pytestmark = pytest.mark.anyio

# Budget of the whole tools/list answer (compact JSON), with room for the tools of the
# market-data and order-type issues.
TOOLS_LIST_BUDGET = 30_000

KNOWN = sorted(s for s in UNIVERSE if UNIVERSE[s].kind == "stock")[:7]
# 500 symbols: every known one, padded with well-formed unknown ones (listed in `unknown`).
MANY = KNOWN + [f"Z{i}.US" for i in range(500 - len(KNOWN))]

SAMPLE_STRINGS = {
    "symbol": "700.HK",
    "currency": "HKD",
    "order_id": "1",
    "confirmation_id": "c-1",
    "begin": "2025-11-01",
    "end": "2025-11-28",
    "start": "2025-10-01",
    "quantity": "100",
    "price": "300",
    "side": "Buy",
}


def largest_arguments(schema: dict[str, Any]) -> dict[str, Any]:
    """Arguments at the top of every range the input schema allows."""
    args: dict[str, Any] = {}
    for name, prop in schema.get("properties", {}).items():
        types = prop.get("type")
        kinds = types if isinstance(types, list) else [types]
        if name == "max_chars":
            continue  # the default budget first; the test raises it separately
        if name == "wait_s":
            continue  # waiting longer returns no more (poll_orders may have nothing to wait on)
        if "enum" in prop:
            # The finest period gives the most bars.
            args[name] = "1m" if "1m" in prop["enum"] else prop["enum"][0]
        elif "integer" in kinds or "number" in kinds:
            if "maximum" in prop:
                args[name] = prop["maximum"]
        elif "array" in kinds:
            args[name] = MANY[: prop.get("maxItems", 500)]
        elif "boolean" in kinds:
            args[name] = False  # `summary` would shrink the result
        elif "string" in kinds and name in SAMPLE_STRINGS:
            args[name] = SAMPLE_STRINGS[name]
    for name in schema.get("required", []):
        assert name in args, f"no sample value for required argument {name!r}"
    return args


async def _tools(client: Any) -> dict[str, Any]:
    return {t.name: t for t in (await client.list_tools()).tools}


def _text(result: Any) -> str:
    return "".join(getattr(c, "text", "") for c in result.content)


@pytest.mark.parametrize("mode", MODES)
async def test_every_tool_with_its_largest_arguments_stays_within_its_budget(
    tmp_path: Path, mode: str
) -> None:
    async with connected(tmp_path, mode) as (sim, client):
        await step(sim, 3)
        await client.call_tool("subscribe", {"symbols": KNOWN})
        await step(sim, 3)
        tools = await _tools(client)
        assert len(tools) >= 28
        sizes = {}
        for name, tool in sorted(tools.items()):
            args = largest_arguments(tool.input_schema)
            limit = budget.budget_of(name)
            result = await client.call_tool(name, args)
            text = _text(result)
            assert len(text) <= limit.default, (name, len(text))
            sizes[name] = len(text)
            if not result.is_error and all(block.type == "text" for block in result.content):
                # Compact JSON of exactly the structured content, sent once as text.
                inner = unwrap_text(text)
                assert json.loads(inner) == result.structured_content, name
                assert inner == escape_for_envelope(budget.compact(result.structured_content))
                assert "\n" not in inner, name
                if tool.output_schema is not None:
                    jsonschema.validate(result.structured_content, tool.output_schema)
            if "max_chars" in tool.input_schema["properties"]:
                big = await client.call_tool(name, {**args, "max_chars": limit.maximum})
                assert len(_text(big)) <= limit.maximum, name
        # The walk reached the big ones with real data, not only errors.
        for name in ("candlesticks", "trades", "intraday", "quote", "static_info"):
            assert sizes[name] > budget.DEFAULT_CHARS // 2, (name, sizes[name])


@pytest.mark.parametrize("mode", MODES)
async def test_tools_list_fits_its_size_budget(tmp_path: Path, mode: str) -> None:
    async with connected(tmp_path, mode) as (_, client):
        tools = (await client.list_tools()).tools
        wire = [t.model_dump(mode="json", by_alias=True, exclude_none=True) for t in tools]
        assert len(wire) >= 45
        assert len(budget.compact(wire)) <= TOOLS_LIST_BUDGET
        # What every tool shares is said once, in the instructions, not in every schema.
        said = client.instructions or ""
        for shared in (
            "TICKER.MARKET",
            "decimal",
            "`truncated`",
            "`hint`",
            "`cursor`",
            "max_chars",
        ):
            assert shared in said, shared
        assert "TICKER.MARKET" not in budget.compact(wire)


@pytest.mark.parametrize("mode", MODES)
async def test_tools_list_has_clean_descriptions_and_valid_schemas(
    tmp_path: Path, mode: str
) -> None:
    async with connected(tmp_path, mode) as (_, client):
        tools = (await client.list_tools()).tools
        wire = [t.model_dump(mode="json", by_alias=True, exclude_none=True) for t in tools]
        for tool in wire:
            assert "\n " not in tool["description"], tool["name"]
            assert not tool["description"].startswith(" "), tool["name"]
            for key in ("inputSchema", "outputSchema"):
                if key in tool:
                    jsonschema.Draft202012Validator.check_schema(tool[key])
                    assert '"title":"' not in budget.compact(tool[key]).replace(
                        '"properties":{"title":', ""
                    ), (tool["name"], key)
        by_name = {t["name"]: t for t in wire}
        assert by_name["candlesticks"]["inputSchema"]["properties"]["max_chars"]["maximum"] == (
            budget.budget_of("candlesticks").maximum
        )
        assert "max_chars" not in by_name["status"]["inputSchema"]["properties"]
        # Open output schemas: a trimmed result's truncated/hint validate undeclared.
        for tool in wire:
            assert "additionalProperties" not in budget.compact(tool.get("outputSchema", {}))
        trimmed = {"symbol": "700.HK", "trades": [{"price": "1"}], "truncated": 3, "hint": "h"}
        jsonschema.validate(trimmed, by_name["trades"]["outputSchema"])
        # Optional arguments are offered without null; titles only where something changes.
        assert by_name["history_orders"]["inputSchema"]["properties"]["symbol"] == {
            "type": "string"
        }
        assert "title" not in by_name["quote"] and by_name["submit_order"]["title"]


@pytest.mark.parametrize("mode", MODES)
async def test_a_long_series_is_trimmed_from_its_oldest_end_with_a_count_and_a_hint(
    tmp_path: Path, mode: str
) -> None:
    async with connected(tmp_path, mode) as (_, client):
        args = {"symbol": "700.HK", "period": "1m", "count": 1000}
        small = (await client.call_tool("candlesticks", args)).structured_content
        assert small is not None
        full = (
            await client.call_tool("candlesticks", {**args, "max_chars": 40_000})
        ).structured_content
        assert full is not None
        assert small["truncated"] > 0
        assert "max_chars" in small["hint"] and "summary" in small["hint"]
        assert len(small["bars"]) + small["truncated"] >= len(full["bars"]) + full.get(
            "truncated", 0
        )
        # The newest bars survive: the trimmed answer is the tail of the larger one.
        assert small["bars"] == full["bars"][-len(small["bars"]) :]

        summary = (
            await client.call_tool("candlesticks", {**args, "summary": True})
        ).structured_content
        assert summary is not None
        assert summary["bars"] == []
        line = summary["summary"]
        total = len(full["bars"]) + full.get("truncated", 0)
        assert line["bars"] == total
        assert line["close"] == full["bars"][-1]["close"]
        assert "truncated" not in summary


@pytest.mark.parametrize("mode", MODES)
async def test_poll_quotes_pages_by_its_budget_and_loses_no_symbol(
    tmp_path: Path, mode: str
) -> None:
    async with connected(tmp_path, mode) as (_, client):
        await client.call_tool("subscribe", {"symbols": KNOWN})
        seen: set[str] = set()
        cursor, pages = 0, 0
        while True:
            result = await client.call_tool(
                "poll_quotes", {"cursor": cursor, "limit": 500, "max_chars": 1_000}
            )
            assert len(_text(result)) <= 1_000
            data = result.structured_content
            assert data is not None and "truncated" not in data
            if not data["updates"]:
                break
            seen.update(u["symbol"] for u in data["updates"])
            cursor, pages = data["cursor"], pages + 1
        assert seen == set(KNOWN)
        assert pages > 1


async def test_a_bad_max_chars_is_an_invalid_argument(tmp_path: Path) -> None:
    async with connected(tmp_path, "legacy") as (_, client):
        for bad in (10, 10**6, "9000", True):
            result = await client.call_tool(
                "trades", {"symbol": "700.HK", "count": 10, "max_chars": bad}
            )
            assert result.is_error
            assert result.structured_content is not None
            assert result.structured_content["error"]["code"] == "INVALID_ARGUMENT"


def test_a_field_called_title_survives_and_nested_models_become_objects() -> None:
    schema = {
        "title": "Out",
        "type": "object",
        "properties": {
            "title": {"title": "Title", "type": "string"},
            "rows": {"type": "array", "items": {"$ref": "#/$defs/Row"}},
            "side": {"$ref": "#/$defs/Side"},
            "price": {"anyOf": [{"type": "string", "pattern": "^x$"}, {"type": "null"}]},
        },
        "required": ["title", "rows"],
        "$defs": {
            "Row": {"type": "object", "properties": {"a": {"type": "integer"}}},
            "Side": {"enum": ["Buy", "Sell"], "type": "string"},
        },
    }
    slim = budget._shallow(budget._slim(schema, output=True))
    assert slim["properties"]["title"] == {"type": "string"}
    assert slim["properties"]["rows"] == {"type": "array", "items": {"type": "object"}}
    assert slim["properties"]["side"] == {"enum": ["Buy", "Sell"], "type": "string"}
    assert slim["properties"]["price"] == {"type": ["string", "null"], "pattern": "^x$"}
    payload = {"title": "t", "rows": [{"a": 1}], "side": "Buy", "price": None}
    jsonschema.validate(payload, schema)
    jsonschema.validate(payload, slim)
    assert "title" not in json.dumps(slim).replace('"title": {"type"', "")


def test_published_output_schemas_name_top_level_fields_and_accept_every_payload() -> None:
    schema = {
        "type": "object",
        "properties": {
            "symbol": {"type": "string"},
            "rows": {"type": "array", "items": {"type": "object"}},
            "price": {"type": ["string", "null"]},
            "count": {"type": "integer"},
        },
    }
    lean = budget._without_echoes(
        budget._top_level_only(schema), {"properties": {"symbol": {"type": "string"}}}
    )
    assert lean["properties"] == {
        "rows": {"type": "array"},
        "price": {},
        "count": {"type": "integer"},
    }
    for payload in (
        {"symbol": "700.HK", "rows": [{"a": 1}], "price": None, "count": 1},
        {"symbol": "700.HK", "rows": [], "price": "1.5", "count": 0, "truncated": 2, "hint": "h"},
    ):
        jsonschema.validate(payload, schema)
        jsonschema.validate(payload, lean)
    jsonschema.Draft202012Validator.check_schema(lean)


def test_optional_arguments_lose_only_their_null_arm() -> None:
    schema = {
        "type": "object",
        "properties": {
            "symbol": {"type": "string"},
            "start": {"type": ["string", "null"]},
            "side": {"anyOf": [{"enum": ["Buy", "Sell"], "type": "string"}, {"type": "null"}]},
            "kinds": {"type": ["array", "null"], "items": {"type": "string"}, "default": ["q"]},
            "must": {"type": ["string", "null"]},
        },
        "required": ["symbol", "must"],
    }
    out = budget._optional_as_omittable(schema)["properties"]
    assert out["start"] == {"type": "string"}
    assert out["side"] == {"enum": ["Buy", "Sell"], "type": "string"}
    assert out["kinds"] == schema["properties"]["kinds"]  # a real default stays nullable
    assert out["must"] == schema["properties"]["must"]  # required: unchanged
