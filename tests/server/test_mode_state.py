"""Sandbox and live never share state: each keeps its own ledger, journal and audit log.

Two servers on one state directory, one in sandbox and one in live mode (both on the
simulator, so nothing real is touched): orders placed in sandbox use none of live's daily caps,
and ``lb-mcp audit`` tells the modes apart and prints a cancel as a cancel.
"""

from __future__ import annotations

import io
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from mcp import Client

from lb_mcp.sdk.enums import Mode
from lb_mcp.server.app import build_server, state_dir_of
from lb_mcp.server.backend import Backend
from lb_mcp.server.gate.records.audit_cli import run_audit
from lb_mcp.sim import Simulator

from .appkit import settings_for, watched_quote_factory
from .orders_support import AUTO_LIMITS, running_sim

pytestmark = pytest.mark.anyio
BUY = {"symbol": "700.HK", "side": "Buy", "quantity": "100", "price": "390"}


def _server(sim: Simulator, base: Path, mode: Mode, app_key: str | None = None) -> Any:
    config = sim.config if app_key is None else replace(sim.config, app_key=app_key)
    backend = Backend(config=config, mode=mode, description="simulator")
    settings = settings_for(base, LB_MCP_TRADING="true", **AUTO_LIMITS)
    server = build_server(
        settings, backend, quote_factory=watched_quote_factory(sim), fanout_interval_s=0.0
    )
    return server, backend, settings


async def _today(client: Any) -> dict[str, Any]:
    status = (await client.call_tool("status", {})).structured_content or {}
    return dict(status["orders"]["today"])


async def test_sandbox_orders_use_none_of_lives_daily_caps(tmp_path: Path) -> None:
    async with running_sim() as sim:
        sandbox, sb_backend, settings = _server(sim, tmp_path, Mode.SANDBOX)
        async with Client(sandbox, mode="legacy") as client:
            result = await client.call_tool("submit_order", BUY)
            placed = result.structured_content or {}
            assert not result.is_error, result.content[0].text
            assert placed["status"] == "placed"
            order_id = placed["order_id"]
            assert (await _today(client))["orders"] == 1
        live, live_backend, _ = _server(sim, tmp_path, Mode.LIVE)
        async with Client(live, mode="legacy") as client:
            assert (await _today(client))["orders"] == 0
            cancelled = await client.call_tool("cancel_order", {"order_id": order_id})
            assert (cancelled.structured_content or {})["status"] == "placed"
        other, other_backend, _ = _server(sim, tmp_path, Mode.LIVE, app_key="another-account")
        async with Client(other, mode="legacy") as client:
            assert (await _today(client))["orders"] == 0
        config = sim.config
    sandbox_dir = state_dir_of(settings, sb_backend)
    live_dir = state_dir_of(settings, live_backend)
    assert sandbox_dir == settings.state_dir / "sandbox"
    assert live_dir.parent == settings.state_dir / "live"
    assert state_dir_of(settings, other_backend) != live_dir
    for directory in (sandbox_dir, live_dir):
        assert {"audit.db", "journal.db", "usage.db"} <= {p.name for p in directory.iterdir()}
    # The account's directory is named by a one-way fingerprint, never by a credential.
    for secret in (config.app_key, config.app_secret, config.access_token):
        assert secret not in str(live_dir)

    out, err = io.StringIO(), io.StringIO()
    assert run_audit(None, str(settings.state_dir), out=out, err=err) == 0, err.getvalue()
    rows = _table(out.getvalue())
    assert {r["mode"] for r in rows} == {"sandbox", f"live {live_dir.name}"}
    sandbox_rows = [r for r in rows if r["mode"] == "sandbox"]
    live_rows = [r for r in rows if r["mode"] != "sandbox"]
    assert {r["kind"] for r in sandbox_rows if r["action"] == "submit"} >= {
        "request",
        "submit_result",
    }
    # The cancel's intent carries the side of the order it cancels; the action says cancel.
    asked = [r for r in live_rows if r["kind"] == "request"]
    assert [(r["action"], r["side"]) for r in asked] == [("cancel", "Buy")]
    assert {r["action"] for r in live_rows if r["kind"] != "status_change"} == {"cancel"}


def _table(text: str) -> list[dict[str, str]]:
    """The audit table's rows by column title (cells may be blank or hold spaces)."""
    header, *lines = text.splitlines()
    titles = ["time (UTC)", "mode", "action", "kind", "intent", "symbol", "side", "qty"]
    starts = [header.index(t) for t in titles] + [header.index("price")]
    return [
        {t: line[a:b].strip() for t, a, b in zip(titles, starts, starts[1:], strict=False)}
        for line in lines
    ]
