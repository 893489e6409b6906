"""Real hours over the wire: an order sent while HK is closed is NotReported, then New at the
open, each change pushed on the trade socket (the simulator's clock, no sleeping)."""

from __future__ import annotations

import json

import anyio
import httpx
import pytest

from lb_mcp.sdk.transport.signing import LongbridgeAuth
from lb_mcp.sdk.wire.codec import decode_message
from lb_mcp.sdk.wire.commands import TradeCommand
from lb_mcp.sdk.wire.proto import trade_pb2
from lb_mcp.sim import Simulator

from .conftest import FakeClock
from .test_ws_server import socket

pytestmark = pytest.mark.anyio

SUNDAY_HK_1600 = 1_763_280_000.0  # 2025-11-16 08:00 UTC
TO_MONDAY_0931 = 86_400 - 6 * 3_600 - 1_800 + 60


async def test_a_closed_market_order_is_not_reported_then_new_at_the_open() -> None:
    clock = FakeClock(SUNDAY_HK_1600)
    with anyio.fail_after(15):
        async with (
            Simulator(tick=False, clock=clock, hours="real") as sim,
            socket(sim.trade_ws_url) as client,
        ):
            await client.auth(sim)
            await client.ok(
                TradeCommand.SUB, trade_pb2.Sub(topics=["private"]), trade_pb2.SubResponse
            )
            auth = LongbridgeAuth(
                app_key=sim.app_key,
                app_secret=sim.app_secret,
                access_token=lambda: sim.access_token,
            )
            async with httpx.AsyncClient(base_url=sim.http_url, auth=auth) as http:
                response = await http.post(
                    "/v1/trade/order",
                    json={
                        "symbol": "700.HK",
                        "order_type": "LO",
                        "side": "Buy",
                        "submitted_quantity": "100",
                        "submitted_price": "300",
                        "time_in_force": "Day",
                    },
                )
                assert response.json()["code"] == 0
                order_id = response.json()["data"]["order_id"]
                detail = await http.get("/v1/trade/order", params={"order_id": order_id})
                assert detail.json()["data"]["status"] == "NotReported"
            clock.advance(TO_MONDAY_0931)
            sim.market.step()
            statuses = []
            for _ in range(3):
                note = decode_message(trade_pb2.Notification, (await client.push()).body)
                data = json.loads(note.data)["data"]
                assert data["order_id"] == order_id
                statuses.append(data["status"])
            assert statuses == ["WaitToNew", "NotReported", "NewStatus"]
