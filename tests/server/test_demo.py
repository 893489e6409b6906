"""``lb-mcp demo`` end to end: real data at each step; no TTY declines, "yes" places one order."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from decimal import Decimal
from pathlib import Path

import anyio
import pytest

from lb_mcp.sdk.enums import Mode
from lb_mcp.server.backend import Backend
from lb_mcp.server.demo import run_demo
from lb_mcp.sim import Simulator

from .appkit import settings_for
from .orders_support import our_orders

pytestmark = pytest.mark.anyio
LB_MCP = str(Path(sys.executable).with_name("lb-mcp"))


@asynccontextmanager
async def ticking_sim() -> AsyncIterator[tuple[Simulator, Backend]]:
    # Ticking fast so the streamed-updates step has pushes to wait for.
    async with Simulator(seed=7, tick=True, push_rate=50) as sim:
        yield sim, Backend(config=sim.config, mode=Mode.SANDBOX, description="test simulator")


async def test_the_demo_without_a_terminal_shows_real_data_declines_and_places_nothing(
    tmp_path: Path,
) -> None:
    lines: list[str] = []
    async with ticking_sim() as (sim, backend):
        with anyio.fail_after(30):
            code = await run_demo(
                settings_for(tmp_path), backend, updates=2, out=lines.append, ask=None
            )
        placed = our_orders(sim)
    text = "\n".join(lines)
    assert code == 0 and placed == []
    listed = re.search(r"(\d+) tools: ([^\n]+)", text)
    assert listed is not None and "submit_order" in listed.group(2)
    assert int(listed.group(1)) == len(
        listed.group(2).split(", ")
    )  # the count is of the names shown
    assert "status: mode=sandbox trading=True" in text
    assert any(line.split()[:1] == ["700.HK"] for line in lines)  # a quote row
    assert "account total in HKD: cash 1,780,000.00" in text  # a converted total, said so
    assert "HKD cash available" in text and "USD cash available" in text
    pnl = re.findall(r"P&L (-?[\d,]+\.(\d+)) ", text)
    assert pnl and all(len(decimals) == 2 for _, decimals in pnl)
    assert sum(" 700.HK " in line and "(seq " in line for line in lines) >= 2
    assert "BUY 100 700.HK" in text and "(no terminal to answer: declined)" in text
    assert "declined: the human did not approve (declined); nothing was placed" in text


async def test_the_demo_with_a_yes_answer_places_exactly_one_order(tmp_path: Path) -> None:
    lines: list[str] = []
    questions: list[str] = []

    def yes(prompt: str) -> str:
        questions.append(prompt)
        return "y"

    async with ticking_sim() as (sim, backend):
        with anyio.fail_after(30):
            code = await run_demo(
                settings_for(tmp_path), backend, updates=1, out=lines.append, ask=yes
            )
        placed = our_orders(sim)
    assert code == 0 and len(questions) == 1
    [order] = placed
    assert (order.symbol, order.quantity) == ("700.HK", Decimal(100))
    text = "\n".join(lines)
    assert f"placed: order {order.order_id}" in text
    assert f"broker says: Buy 100 700.HK at {order.price}" in text
    assert "Status" not in text.split("broker says:")[1]  # a person's status name, not the wire's
    assert order.price is not None and order.price % Decimal("0.2") == 0  # on the HK grid


def test_the_demo_command_with_stdin_not_a_terminal_declines(tmp_path: Path) -> None:
    state = tmp_path / "state"
    done = subprocess.run(
        [LB_MCP, "demo", "--updates", "1"],
        env={**os.environ, "LB_MCP_STATE_DIR": str(state)},
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "(no terminal to answer: declined)" in done.stdout
    assert "nothing was placed" in done.stdout and "placed: order" not in done.stdout
    # The demo runs in sandbox mode: its records are the sandbox's, in the given directory.
    assert (state / "sandbox" / "audit.db").is_file()
    assert not (state / "audit.db").exists()
