"""Each protective order type end to end through ``mcp.Client`` on the simulator: submit ->
the human confirms (elicitation) -> it triggers / fills on the seeded price path -> the order
event reaches the client through ``poll_orders`` and the ``longbridge://orders`` resource."""

from __future__ import annotations

import json
import warnings
from decimal import Decimal
from pathlib import Path
from typing import Any

import anyio
import mcp_types as types
import pytest
from mcp import Client
from mcp.shared.exceptions import MCPDeprecationWarning

from lb_mcp.sdk.enums import Market, OrderStatus
from lb_mcp.server.gate.intent import canonical_decimal
from lb_mcp.sim import Simulator
from lb_mcp.sim.market.sessions import local_date
from lb_mcp.sim.market.universe import move_ticks

from .orders_support import AUTO_LIMITS, our_orders, settings_for
from .test_redteam import BUY, Human, _error_code, _structured, serving

pytestmark = pytest.mark.anyio
FINAL = {"FilledStatus", "PartialWithdrawal"}
ORDERS = "longbridge://orders"


def _last(sim: Simulator) -> Decimal:
    return sim.market.last_price("700.HK")


def _lit(sim: Simulator) -> dict[str, str]:
    trigger = move_ticks("700.HK", _last(sim), -1)
    price = move_ticks("700.HK", trigger, -5)
    return {"side": "Sell", "order_type": "LIT", "trigger_price": str(trigger), "price": str(price)}


def _mit(sim: Simulator) -> dict[str, str]:
    trigger = move_ticks("700.HK", _last(sim), 1)
    return {"side": "Buy", "order_type": "MIT", "trigger_price": str(trigger)}


def _tslpamt(sim: Simulator) -> dict[str, str]:
    return {
        "side": "Sell",
        "order_type": "TSLPAMT",
        "trailing_amount": "0.4",
        "limit_offset": "0.2",
    }


def _tslppct(sim: Simulator) -> dict[str, str]:
    return {"side": "Sell", "order_type": "TSLPPCT", "trailing_percent": "0.1", "limit_offset": "0"}


async def _until_final(sim: Simulator, client: Any, order_id: str) -> list[str]:
    """Step the price path, polling the order events; the statuses the client saw."""
    cursor, seen = 0, []
    for _ in range(150):
        out = _structured(await client.call_tool("poll_orders", {"cursor": cursor, "wait_s": 1}))
        cursor = out["cursor"]
        seen += [o["status"] for o in out["orders"] if o["order_id"] == order_id]
        if seen and seen[-1] in FINAL:
            return seen
        for _ in range(10):
            sim.market.step()
    raise AssertionError(f"order {order_id} never finished; the client saw {seen}")


@pytest.mark.parametrize("kind", [_lit, _mit, _tslpamt, _tslppct])
async def test_a_protective_order_is_confirmed_triggers_fills_and_the_client_hears_it(
    tmp_path: Path, kind: Any
) -> None:
    human = Human()
    async with serving(settings_for(tmp_path)) as (rig, server):
        async with Client(server, mode="legacy", elicitation_callback=human) as client:
            args = {"symbol": "700.HK", "quantity": "100", **kind(rig.sim)}
            placed = _structured(await client.call_tool("submit_order", args))
            assert placed.get("status") == "placed", placed
            seen = await _until_final(rig.sim, client, placed["order_id"])
            resource = await client.read_resource("longbridge://orders")
        [order] = our_orders(rig.sim)
    assert human.asked == 1 and "Fills: " in human.last_message
    assert order.order_type.value == args["order_type"] and order.trigger_at > 0
    assert order.status in (OrderStatus.Filled, OrderStatus.PartialWithdrawal)
    # Conditional: it waited for its trigger first; the client never saw a state go back.
    assert "VarietiesNotReported" in seen or "WaitToNew" in seen or "NewStatus" in seen
    assert seen[-1] in FINAL and seen.count(seen[-1]) == 1
    text = resource.contents[0].text  # type: ignore[union-attr]
    mine = [o for o in json.loads(text)["orders"] if o["order_id"] == order.order_id]
    assert [o["status"] for o in mine] == [seen[-1]]


async def test_the_human_reads_the_trigger_in_plain_words(tmp_path: Path) -> None:
    human = Human(action="decline")
    async with serving(settings_for(tmp_path)) as (rig, server):
        async with Client(server, mode="legacy", elicitation_callback=human) as client:
            args = {"symbol": "700.HK", "quantity": "100", **_lit(rig.sim)}
            out = _structured(await client.call_tool("submit_order", args))
        assert our_orders(rig.sim) == []
    assert out["status"] == "declined"
    trigger, price = (canonical_decimal(Decimal(args[k])) for k in ("trigger_price", "price"))
    assert (
        f"sells 100 700.HK if the price falls to {trigger} HKD, then as a limit order at "
        f"{price} HKD"
    ) in human.last_message


async def test_gtd_and_a_quantity_only_replace_keep_the_price(tmp_path: Path) -> None:
    human = Human()
    async with serving(settings_for(tmp_path)) as (rig, server):
        async with Client(server, mode="legacy", elicitation_callback=human) as client:
            low = move_ticks("700.HK", _last(rig.sim), -20)
            expiry = local_date(Market.HK, rig.sim.clock()).isoformat()
            args = {
                "symbol": "700.HK", "side": "Buy", "quantity": "100", "price": str(low),
                "time_in_force": "GTD", "expire_date": expiry, "remark": "dip buy",
            }  # fmt: skip
            placed = _structured(await client.call_tool("submit_order", args))
            assert "order_id" in placed, placed
            replaced = _structured(
                await client.call_tool(
                    "replace_order", {"order_id": placed["order_id"], "quantity": "200"}
                )
            )
            past = await client.call_tool("submit_order", {**args, "expire_date": "2000-01-01"})
        [order] = our_orders(rig.sim)
    assert placed["status"] == replaced["status"] == "placed"
    assert (order.quantity, order.price) == (Decimal(200), low)
    assert order.expire_date is not None and order.expire_date.isoformat() == expiry
    assert order.remark.startswith("lbmcp:") and order.remark.endswith(" dip buy")
    assert _error_code(past) == "BAD_EXPIRE_DATE"


async def test_the_schema_offers_only_the_allowed_types_and_their_fields(tmp_path: Path) -> None:
    settings = settings_for(tmp_path, LB_MCP_ALLOWED_ORDER_TYPES="LO,MO")
    async with serving(settings) as (_, server), Client(server, mode="legacy") as client:
        tools = {t.name: t for t in (await client.list_tools()).tools}
    props = tools["submit_order"].input_schema["properties"]
    assert props["order_type"]["enum"] == ["LO", "MO"]
    assert not {"trigger_price", "trailing_amount", "limit_offset"} & set(props)
    assert "trigger_price" not in tools["replace_order"].input_schema["properties"]


def test_the_orders_uri_is_one_string_for_the_gate_and_the_fan_out() -> None:
    from lb_mcp.server.gate import events
    from lb_mcp.server.streams import store

    assert events.ORDERS_URI == store.ORDERS_URI == "longbridge://orders"


async def test_both_eras_hear_longbridge_orders_update_when_an_order_changes(
    tmp_path: Path,
) -> None:
    arrived = anyio.Event()

    async def on_message(message: Any) -> None:
        root = getattr(message, "root", message)
        if isinstance(root, types.ResourceUpdatedNotification) and str(root.params.uri) == ORDERS:
            arrived.set()

    settings = settings_for(tmp_path, **AUTO_LIMITS)
    async with serving(settings) as (rig, server):
        async with Client(server, mode="legacy", message_handler=on_message) as client:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", MCPDeprecationWarning)
                await client.session.subscribe_resource(ORDERS)
            await client.call_tool("submit_order", BUY)
            with anyio.fail_after(5):
                await arrived.wait()
        async with (
            Client(server, mode="auto") as client,
            client.listen(resource_subscriptions=[ORDERS]) as sub,
        ):
            await client.call_tool("submit_order", BUY)
            with anyio.fail_after(5):
                async for event in sub:
                    assert event.uri == ORDERS
                    break
        assert len(our_orders(rig.sim)) == 2
