"""Elicitation answers are read strictly: only ``confirm`` given as the boolean true confirms.

Through ``mcp.Client`` with an elicitation callback playing a (buggy or hostile) client, in both
protocol eras; the simulator's own order list says whether anything was placed, and the audit
log says why an answer was read as a decline.
"""

from __future__ import annotations

import contextlib
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from mcp import Client
from mcp.client.session import ClientRequestContext
from mcp_types import ElicitRequestParams, ElicitResult

from .appkit import make_server, running_sim
from .orders_support import our_orders, settings_for

pytestmark = pytest.mark.anyio
ERAS = ["legacy", "auto"]
BUY = {"symbol": "700.HK", "side": "Buy", "quantity": "100", "price": "402"}


def _answering(content: dict[str, Any] | None) -> Any:
    async def human(_: ClientRequestContext, params: ElicitRequestParams) -> ElicitResult:
        return ElicitResult(action="accept", content=content)

    return human


def _audit_why(state: Path) -> list[str]:
    (path,) = state.rglob("audit.db")
    with contextlib.closing(sqlite3.connect(path)) as db:
        query = "SELECT detail FROM events WHERE code = 'ANSWER_NOT_A_YES' ORDER BY id"
        return [row[0] for row in db.execute(query)]


@pytest.mark.parametrize("era", ERAS)
@pytest.mark.parametrize(
    ("content", "why"),
    [
        ({}, "no confirm value"),
        ({"confirm": "yes"}, "the answer gave a str"),
        ({"confirm": "true"}, "the answer gave a str"),
        ({"confirm": 1}, "the answer gave a int"),
        ({"confirm": False}, "answered no"),
    ],
)
async def test_anything_but_boolean_true_is_an_audited_decline(
    tmp_path: Path, era: str, content: dict[str, Any], why: str
) -> None:
    async with running_sim() as sim:
        server = make_server(sim, settings_for(tmp_path / "state"))
        async with Client(server, mode=era, elicitation_callback=_answering(content)) as client:
            result = await client.call_tool("submit_order", BUY)
            assert not result.is_error, result.content[0].text
            out = result.structured_content or {}
            assert out["status"] == "declined" and out["order_id"] is None
            assert why in out["message"] and "nothing was placed" in out["message"]
            pending = (await client.call_tool("pending_orders", {})).structured_content or {}
            assert [c["status"] for c in pending["confirmations"]] == ["declined"]
        assert our_orders(sim) == []
    (audited,) = _audit_why(tmp_path / "state")
    assert why in audited


@pytest.mark.parametrize("era", ERAS)
async def test_boolean_true_confirms(tmp_path: Path, era: str) -> None:
    async with running_sim() as sim:
        server = make_server(sim, settings_for(tmp_path / "state"))
        human = _answering({"confirm": True})
        async with Client(server, mode=era, elicitation_callback=human) as client:
            out = (await client.call_tool("submit_order", BUY)).structured_content or {}
        assert out["status"] == "placed"
        assert [o.order_id for o in our_orders(sim)] == [out["order_id"]]
    assert _audit_why(tmp_path / "state") == []


async def test_an_accept_without_content_is_a_clean_error_and_places_nothing(
    tmp_path: Path,
) -> None:
    async with running_sim() as sim:
        server = make_server(sim, settings_for(tmp_path / "state"))
        async with Client(server, mode="legacy", elicitation_callback=_answering(None)) as client:
            result = await client.call_tool("submit_order", BUY)
            assert result.is_error
            assert (result.structured_content or {})["error"]["code"] == "CONFIRMATION_INVALID"
            assert "Traceback" not in result.content[0].text
        assert our_orders(sim) == []
