"""Small agent-facing fixes of issue 14, each through the MCP client."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest

from lb_mcp.server.output import unwrap_text

from .appkit import MODES, connected

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize("mode", MODES)
async def test_status_is_readable_and_shows_the_limits_once(tmp_path: Path, mode: str) -> None:
    async with connected(tmp_path, mode) as (_, client):
        result = await client.call_tool("status", {})
    text = unwrap_text(result.content[0].text)
    data = result.structured_content or {}
    assert "ConnectionState(" not in text and "=None" not in text  # no Python repr
    connection = data["quote_connection"]
    assert set(connection) >= {"status", "connected", "reconnects"}
    assert isinstance(connection["connected"], bool)
    assert text.count("max_order_notional") == 1 and text.count("price_band_pct") == 1
    assert data["limits"]["confirm_ttl_s"] == 120
    assert data["orders"]["today"]["orders"] == 0
    json.loads(text)


async def test_static_info_names_the_dividend_for_what_it_is(tmp_path: Path) -> None:
    async with connected(tmp_path, "legacy") as (_, client):
        info = await client.call_tool("static_info", {"symbols": ["700.HK"]})
        [row] = (info.structured_content or {})["securities"]
        assert "dividend_yield" not in row
        assert Decimal(row["dividend_per_share"]) > 0 and row["currency"] == "HKD"
        listed = {t.name: t for t in (await client.list_tools()).tools}
        assert "dividend per share" in (listed["static_info"].description or "")


async def test_a_cancel_is_asked_and_reported_as_a_cancel(tmp_path: Path) -> None:
    from mcp import Client
    from mcp.client.session import ClientRequestContext
    from mcp_types import ElicitRequestParams, ElicitResult

    from .appkit import make_server, running_sim, settings_for
    from .orders_support import AUTO_LIMITS

    asked: list[ElicitRequestParams] = []

    async def human(_: ClientRequestContext, params: ElicitRequestParams) -> ElicitResult:
        asked.append(params)
        return ElicitResult(action="accept", content={"confirm": True})

    buy = {"symbol": "700.HK", "side": "Buy", "quantity": "100", "price": "390"}
    async with running_sim() as sim:
        placer = make_server(sim, settings_for(tmp_path / "a", **AUTO_LIMITS))
        async with Client(placer, mode="legacy") as client:
            placed = (await client.call_tool("submit_order", buy)).structured_content or {}
        canceller = make_server(sim, settings_for(tmp_path / "b"))
        async with Client(canceller, mode="legacy", elicitation_callback=human) as client:
            result = await client.call_tool("cancel_order", {"order_id": placed["order_id"]})
            out = result.structured_content or {}
    [question] = asked
    shown = question.message + json.dumps(question.requested_schema)
    assert "CANCEL" in question.message and "Place" not in shown and "place this" not in shown
    assert out["action"] == "cancel" and "cancel request" in out["message"]
    assert "accepted the order" not in out["message"]


def test_the_readme_pins_the_inspector_used_over_http() -> None:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    http_lines = [line for line in readme.splitlines() if "--server-url" in line]
    assert http_lines and all("@modelcontextprotocol/inspector@2.12.0" in x for x in http_lines)
