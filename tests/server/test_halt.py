"""The human's kill switch: ``lb-mcp halt`` / ``lb-mcp resume`` from a second process stop new
orders and replaces in a running server at once (an in-flight confirmation too); ``status``
shows it; ``--cancel-open`` cancels lb-mcp's open orders; no tool can lift it."""

from __future__ import annotations

import io
import os
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client
from mcp.client.session import ClientRequestContext
from mcp_types import ElicitRequestParams, ElicitResult

from lb_mcp.sdk.config import Config
from lb_mcp.sdk.enums import OrderSide, OrderStatus, OrderType, TimeInForceType
from lb_mcp.sdk.trade.context import TradeContext
from lb_mcp.server.gate.delivery.journal import remark_for
from lb_mcp.server.gate.halt import cancel_open, read_halt
from lb_mcp.sim.market.universe import move_ticks

from .orders_support import our_orders, settings_for
from .test_crash_reconcile import sim_process
from .test_redteam import BUY, Human, _error_code, _structured, serving

pytestmark = pytest.mark.anyio
LB_MCP = str(Path(sys.executable).with_name("lb-mcp"))


async def _cli(tmp_path: Path, *args: str) -> str:
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("LONGBRIDGE_", "LB_MCP_"))},
        "HOME": str(tmp_path / "home"),
        "XDG_STATE_HOME": str(tmp_path / "xdg"),
        "LB_MCP_STATE_DIR": str(tmp_path),
    }
    done = await anyio.run_process([LB_MCP, *args], env=env, check=True)
    return done.stdout.decode()


async def test_a_halt_from_another_process_stops_new_orders_until_the_human_resumes(
    tmp_path: Path,
) -> None:
    human = Human()
    async with serving(settings_for(tmp_path)) as (rig, server):
        async with Client(server, mode="legacy", elicitation_callback=human) as client:
            out = await _cli(tmp_path, "halt", "--reason", "lunch")
            assert "HALTED" in out
            refused = await client.call_tool("submit_order", BUY)
            status = _structured(await client.call_tool("status", {}))
            await _cli(tmp_path, "resume")
            placed = _structured(await client.call_tool("submit_order", BUY))
        orders = our_orders(rig.sim)
    assert _error_code(refused) == "TRADING_HALTED"
    assert "lunch" in _structured(refused)["error"]["message"]
    assert status["orders"]["halted"]["reason"] == "lunch"
    assert human.asked == 1  # the human was never asked about the refused one
    assert [o.order_id for o in orders] == [placed["order_id"]]


async def test_a_halt_while_the_human_is_looking_stops_the_order_before_it_is_sent(
    tmp_path: Path,
) -> None:
    async def halting_human(
        context: ClientRequestContext, params: ElicitRequestParams
    ) -> ElicitResult:
        await _cli(tmp_path, "halt")  # the human pulls the switch, then clicks accept
        return ElicitResult(action="accept", content={"confirm": True})

    async with serving(settings_for(tmp_path)) as (rig, server):
        async with Client(server, mode="legacy", elicitation_callback=halting_human) as client:
            result = await client.call_tool("submit_order", BUY)
        assert our_orders(rig.sim) == []
    assert _error_code(result) == "TRADING_HALTED"


async def test_the_model_cannot_lift_a_halt_and_can_still_cancel(tmp_path: Path) -> None:
    human = Human()
    async with serving(settings_for(tmp_path)) as (rig, server):
        async with Client(server, mode="legacy", elicitation_callback=human) as client:
            low = str(move_ticks("700.HK", rig.sim.market.last_price("700.HK"), -20))
            order = _structured(await client.call_tool("submit_order", {**BUY, "price": low}))
            await _cli(tmp_path, "halt")
            names = {t.name for t in (await client.list_tools()).tools}
            attempts: list[Any] = [
                await client.call_tool("resume", {}),
                await client.call_tool("submit_order", {**BUY, "halt": False, "resume": True}),
                await client.call_tool(
                    "replace_order", {"order_id": order["order_id"], "quantity": "200"}
                ),
            ]
            cancelled = _structured(
                await client.call_tool("cancel_order", {"order_id": order["order_id"]})
            )
        [placed] = our_orders(rig.sim)
    assert not {n for n in names if "halt" in n or "resume" in n}
    assert [_error_code(r) for r in attempts] == [
        "UNKNOWN_TOOL",
        "TRADING_HALTED",
        "TRADING_HALTED",
    ]
    assert read_halt(tmp_path) is not None  # still halted
    assert cancelled["status"] == "placed" and placed.status is OrderStatus.Canceled
    assert placed.quantity == Decimal(100)


async def test_cancel_open_cancels_only_the_open_orders_lb_mcp_placed(tmp_path: Path) -> None:
    human = Human()
    async with serving(settings_for(tmp_path)) as (rig, server):
        async with Client(server, mode="legacy", elicitation_callback=human) as client:
            low = str(move_ticks("700.HK", rig.sim.market.last_price("700.HK"), -20))
            await client.call_tool("submit_order", {**BUY, "price": low})
        others = {
            o.order_id: o.status for o in rig.sim.ledger.orders() if o not in our_orders(rig.sim)
        }
        out = io.StringIO()
        assert await cancel_open(rig.sim.config, tmp_path, out) == 0
        [mine] = our_orders(rig.sim)
        after = {o.order_id: o.status for o in rig.sim.ledger.orders() if o.order_id in others}
    assert mine.status is OrderStatus.Canceled and mine.order_id in out.getvalue()
    assert after == others  # orders not placed by lb-mcp are untouched


async def test_halt_cancel_open_from_the_command_line_reaches_the_broker(tmp_path: Path) -> None:
    async with sim_process() as sim_env:
        config = Config.from_apikey_env(env=sim_env)
        async with TradeContext(config) as trade:
            low = Decimal("300")
            mine = await trade.submit_order(
                "700.HK", OrderType.LO, OrderSide.Buy, Decimal(100), TimeInForceType.Day,
                submitted_price=low, remark=remark_for("f" * 32),
            )  # fmt: skip
            other = await trade.submit_order(
                "700.HK", OrderType.LO, OrderSide.Buy, Decimal(100), TimeInForceType.Day,
                submitted_price=low, remark="placed by hand",
            )  # fmt: skip
            env = {
                **{
                    k: v
                    for k, v in os.environ.items()
                    if not k.startswith(("LONGBRIDGE_", "LB_MCP_"))
                },
                **sim_env,
                "HOME": str(tmp_path / "home"),
                "XDG_STATE_HOME": str(tmp_path / "xdg"),
                "LB_MCP_STATE_DIR": str(tmp_path),
            }
            done = await anyio.run_process([LB_MCP, "halt", "--cancel-open"], env=env, check=True)
            statuses = {
                o.order_id: o.status
                for o in await trade.today_orders()
                if o.order_id in (mine.order_id, other.order_id)
            }
    assert statuses == {mine.order_id: OrderStatus.Canceled, other.order_id: OrderStatus.New}
    assert mine.order_id in done.stdout.decode() and read_halt(tmp_path) is not None
    assert b"Traceback" not in done.stderr
