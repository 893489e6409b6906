"""Approval without a browser: the human decides in a terminal with ``lb-mcp approve``.

The server runs in this process with no elicitation client and no browser
(``LB_MCP_APPROVAL_OPEN_BROWSER=off``); the human is a second process running ``lb-mcp
approve``, which reads the 0600 file the server wrote. The confirmation waits instead of being
cancelled, and the order placed is the one the terminal showed.
"""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client

from .appkit import make_server, running_sim, settings_for
from .orders_support import our_orders

pytestmark = pytest.mark.anyio
LB_MCP = str(Path(sys.executable).with_name("lb-mcp"))
BUY = {"symbol": "700.HK", "side": "Buy", "quantity": "100", "price": "402"}


async def _approve(state: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "LB_MCP_STATE_DIR": str(state)}
    done = await anyio.run_process(
        [LB_MCP, "approve", *args], env=env, check=False, stdin=subprocess.DEVNULL
    )
    return subprocess.CompletedProcess(
        done.args, done.returncode, done.stdout.decode(), done.stderr.decode()
    )


async def _settled(client: Any, confirmation_id: str) -> dict[str, Any]:
    with anyio.fail_after(20):
        while True:
            pending = (await client.call_tool("pending_orders", {})).structured_content or {}
            [entry] = [
                c for c in pending["confirmations"] if c["confirmation_id"] == confirmation_id
            ]
            if entry["status"] != "confirmation_required":
                return dict(entry)
            await anyio.sleep(0.05)


@pytest.mark.parametrize("decision", ["--yes", "--decline"])
async def test_a_second_process_approves_or_declines_in_a_terminal(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], decision: str
) -> None:
    state = tmp_path / "state"
    async with running_sim() as sim:
        server = make_server(sim, settings_for(tmp_path))
        async with Client(server, mode="legacy") as client:
            asked = (await client.call_tool("submit_order", BUY)).structured_content or {}
            assert asked["status"] == "confirmation_required", asked
            assert "lb-mcp approve" in asked["message"] and "pending_orders" in asked["message"]
            cid = asked["confirmation_id"]
            notice = capsys.readouterr().err
            assert "lb-mcp approve" in notice and "http://127.0.0.1:" in notice

            [file] = list(state.rglob("pending/*.json"))
            assert stat.S_IMODE(file.stat().st_mode) == 0o600
            assert file.parent.parent == state / "sandbox"

            listed = await _approve(state)
            assert listed.returncode == 0, listed.stderr
            assert cid in listed.stdout and "BUY 100 700.HK" in listed.stdout
            assert "/approve/" not in listed.stdout  # the capability is never printed

            decided = await _approve(state, cid, decision)
            assert decided.returncode == 0, decided.stderr
            entry = await _settled(client, cid)
            again = await _approve(state, cid, decision)
            assert again.returncode == 1  # single use: the file is gone
        placed = our_orders(sim)
    if decision == "--yes":
        assert entry["status"] == "placed"
        assert [(o.order_id, o.symbol, o.quantity) for o in placed] == [
            (entry["order_id"], "700.HK", 100)
        ]
    else:
        assert entry["status"] == "declined" and placed == []
    assert list(state.rglob("pending/*.json")) == []


async def test_without_a_terminal_the_command_asks_for_a_flag(tmp_path: Path) -> None:
    state = tmp_path / "state"
    async with running_sim() as sim:
        server = make_server(sim, settings_for(tmp_path))
        async with Client(server, mode="legacy") as client:
            asked = (await client.call_tool("submit_order", BUY)).structured_content or {}
            done = await _approve(state, asked["confirmation_id"])
            assert done.returncode == 2 and "--yes or --decline" in done.stderr
            nothing = await _approve(state, "cf_unknown", "--yes")
            assert nothing.returncode == 1
        assert our_orders(sim) == []
