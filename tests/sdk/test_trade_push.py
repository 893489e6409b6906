"""TradeContext's push half against the in-test trade socket."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from decimal import Decimal

import anyio
import pytest

from lb_mcp.sdk.enums import OrderSide, OrderStatus, OrderType, TimeInForceType, TopicType
from lb_mcp.sdk.errors import InvalidArgument
from lb_mcp.sdk.trade.context import TradeContext
from lb_mcp.sdk.trade.models import PushOrderChanged
from lb_mcp.sdk.wire.commands import ControlCommand, TradeCommand
from lb_mcp.sdk.wire.proto import trade_pb2
from lb_mcp.sim import Simulator

from .fake_server import (
    FakeServer,
    Recorder,
    fast_options,
    order_changed_body,
)

pytestmark = pytest.mark.anyio

NOTIFY = TradeCommand.NOTIFY


@asynccontextmanager
async def trade_context(server: FakeServer) -> AsyncIterator[TradeContext]:
    config = server.config()
    async with (
        server.http(config) as http,
        TradeContext(config, http=http, ws_options=fast_options()) as ctx,
    ):
        yield ctx


async def test_subscribe_opens_the_trade_socket_with_empty_auth_metadata_then_sub() -> None:
    async with FakeServer("trade") as server, trade_context(server) as trade:
        assert server.connections == []  # lazy until subscribe
        with anyio.fail_after(5):
            await trade.subscribe([TopicType.Private])
        [conn] = server.connections
        auth, sub = conn.requests
        assert (auth.cmd, auth.request_id) == (ControlCommand.AUTH, 1)
        assert auth.body == b"\n\x05otp-1"  # AuthRequest{token}: no metadata at all
        assert (sub.cmd, sub.request_id) == (TradeCommand.SUB, 2)
        assert list(trade_pb2.Sub.FromString(sub.body).topics) == ["private"]
        assert trade.connection_state().connected


async def test_order_changes_reach_the_callback_and_other_topics_or_events_do_not() -> None:
    async with FakeServer("trade") as server, trade_context(server) as trade:
        changes: Recorder[PushOrderChanged] = Recorder()
        trade.set_on_order_changed(changes)
        await trade.subscribe([TopicType.Private])
        conn = server.connections[0]
        with anyio.fail_after(5):
            await conn.push(NOTIFY, order_changed_body("701", "NewStatus", topic="public"))
            await conn.push(NOTIFY, order_changed_body("701", "NewStatus"))
            await changes.wait_for(lambda items: len(items) == 1)
            await conn.push(NOTIFY, order_changed_body("701", "CanceledStatus"))
            await changes.wait_for(lambda items: len(items) == 2)
        assert [(c.order_id, c.status) for c in changes.items] == [
            ("701", OrderStatus.New),
            ("701", OrderStatus.Canceled),
        ]
        assert changes.items[0].executed_price is None  # "0" means not executed


async def test_a_malformed_order_push_is_dropped_and_counted() -> None:
    async with FakeServer("trade") as server, trade_context(server) as trade:
        changes: Recorder[PushOrderChanged] = Recorder()
        trade.set_on_order_changed(changes)
        await trade.subscribe([TopicType.Private])
        conn = server.connections[0]
        bad = trade_pb2.Notification(topic="private", data=b'{"event":"order_changed_lb"}')
        with anyio.fail_after(5):
            await conn.push(NOTIFY, bad.SerializeToString())
            await conn.push(NOTIFY, order_changed_body("702", "FilledStatus"))
            await changes.wait_for(lambda items: len(items) == 1)
        assert changes.items[0].status is OrderStatus.Filled
        assert trade._pusher().dropped == 1


async def test_after_a_reconnect_topics_are_resubscribed_then_the_hook_runs() -> None:
    async with FakeServer("trade") as server, trade_context(server) as trade:
        reconnected = anyio.Event()
        seen_by_hook: list[list[int]] = []

        async def on_reconnected() -> None:
            seen_by_hook.append(server.connections[-1].cmds())
            reconnected.set()

        trade.set_on_reconnected(on_reconnected)
        await trade.subscribe([TopicType.Private])
        with anyio.fail_after(5):
            await server.drop_all()
            await reconnected.wait()
        assert seen_by_hook == [[ControlCommand.RECONNECT, TradeCommand.SUB]]
        assert list(trade_pb2.Sub.FromString(server.connections[1].requests[1].body).topics) == [
            "private"
        ]
        assert trade.connection_state().reconnects == 1


async def test_unsubscribe_keeps_the_servers_current_list() -> None:
    async with FakeServer("trade") as server, trade_context(server) as trade:
        await trade.subscribe([TopicType.Private])
        with anyio.fail_after(5):
            await trade.unsubscribe([TopicType.Private])
        assert trade._pusher().topics == []
        assert server.connections[0].cmds()[-1] == TradeCommand.UNSUB


async def test_topics_must_be_a_list_of_topic_types() -> None:
    async with FakeServer("trade") as server, trade_context(server) as trade:
        with pytest.raises(InvalidArgument):
            await trade.subscribe([])
        with pytest.raises(InvalidArgument):
            await trade.subscribe(["private"])  # type: ignore[list-item]
        assert server.connections == []


async def test_the_simulator_pushes_new_then_canceled_for_an_order_placed_over_rest() -> None:
    async with Simulator(seed=7, tick=False) as sim:
        async with TradeContext(sim.config, ws_options=fast_options()) as trade:
            changes: Recorder[PushOrderChanged] = Recorder()
            trade.set_on_order_changed(changes)
            with anyio.fail_after(10):
                await trade.subscribe([TopicType.Private])
                [quote] = await _last_price(sim)
                placed = await trade.submit_order(
                    "700.HK",
                    OrderType.LO,
                    OrderSide.Buy,
                    Decimal(100),
                    TimeInForceType.Day,
                    submitted_price=(quote * Decimal("0.8")).quantize(
                        Decimal("1")
                    ),  # on every HK tick grid,
                )
                await changes.wait_for(
                    lambda items: any(c.order_id == placed.order_id for c in items)
                )
                await trade.cancel_order(placed.order_id)
                await changes.wait_for(
                    lambda items: any(c.status is OrderStatus.Canceled for c in items)
                )
        statuses = [c.status for c in changes.items if c.order_id == placed.order_id]
        assert statuses[-1] is OrderStatus.Canceled
        assert OrderStatus.New in statuses or OrderStatus.WaitToNew in statuses


async def _last_price(sim: Simulator) -> list[Decimal]:
    from lb_mcp.sdk.quote.context import QuoteContext

    async with QuoteContext(sim.config, options=fast_options()) as ctx:
        return [q.last_done for q in await ctx.quote(["700.HK"])]
