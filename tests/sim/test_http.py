from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio
import httpx
import pytest

from lb_mcp.sdk.transport.signing import LongbridgeAuth
from lb_mcp.sim import Simulator

from .conftest import FakeClock

pytestmark = pytest.mark.anyio


@asynccontextmanager
async def running(clock: FakeClock) -> AsyncIterator[Simulator]:
    with anyio.fail_after(10):
        async with Simulator(tick=False, clock=clock) as sim:
            yield sim


def client(
    sim: Simulator, *, secret: str | None = None, token: str | None = None, key: str | None = None
) -> httpx.AsyncClient:
    auth = LongbridgeAuth(
        app_key=key or sim.app_key,
        app_secret=secret or sim.app_secret,
        access_token=lambda: token or sim.access_token,
    )
    return httpx.AsyncClient(base_url=sim.http_url, auth=auth)


async def test_a_signed_request_gets_the_envelope_and_a_trace_id(clock: FakeClock) -> None:
    async with running(clock) as sim, client(sim) as http:
        response = await http.get("/v1/asset/account")
        body = response.json()
        assert response.status_code == 200
        assert response.headers["x-trace-id"]
        assert (body["code"], body["message"]) == (0, "success")
        entry = body["data"]["list"][0]
        assert entry["currency"] == "HKD" and entry["total_cash"] == "1780000.00"
        assert entry["risk_level"] == "0" and entry["frozen_transaction_fees"] == []


async def test_a_bare_question_mark_is_signed_as_an_empty_query(clock: FakeClock) -> None:
    async with running(clock) as sim, client(sim) as http:
        response = await http.get("/v1/trade/order/today?")
        assert response.status_code == 200 and response.json()["code"] == 0


async def test_a_bad_signature_is_refused_with_403201(clock: FakeClock) -> None:
    async with running(clock) as sim, client(sim, secret="not-the-secret") as http:
        response = await http.get("/v1/asset/account")
        assert response.status_code == 403
        assert response.json() == {"code": 403201, "message": "signature invalid", "data": None}


async def test_a_wrong_access_token_is_refused_with_401003(clock: FakeClock) -> None:
    async with running(clock) as sim, client(sim, token="stale-token") as http:
        response = await http.get("/v1/asset/stock", params={"symbol": ["700.HK"]})
        assert (response.status_code, response.json()["code"]) == (401, 401003)


async def test_an_unknown_app_key_is_refused_with_403203(clock: FakeClock) -> None:
    async with running(clock) as sim, client(sim, key="someone-else") as http:
        response = await http.get("/v1/asset/account")
        assert (response.status_code, response.json()["code"]) == (403, 403203)


async def test_an_oauth_bearer_token_issued_by_the_sim_is_accepted(clock: FakeClock) -> None:
    async with running(clock) as sim, httpx.AsyncClient(base_url=sim.http_url) as http:
        ok = await http.get(
            "/v1/asset/account", headers={"authorization": f"Bearer {sim.oauth_token}"}
        )
        bad = await http.get("/v1/asset/account", headers={"authorization": "Bearer nope"})
        assert ok.json()["code"] == 0
        assert (bad.status_code, bad.json()["code"]) == (401, 401003)


async def test_the_31st_trade_call_in_30_seconds_is_limited_with_429002(clock: FakeClock) -> None:
    async with running(clock) as sim, client(sim) as http:
        for _ in range(30):
            assert (await http.get("/v1/trade/order/today")).status_code == 200
        limited = await http.get("/v1/trade/order/today")
        assert (limited.status_code, limited.json()["code"]) == (429, 429002)
        other = await http.get("/v1/trade/execution/today")  # limits are per endpoint
        assert other.status_code == 200
        clock.advance(30)
        assert (await http.get("/v1/trade/order/today")).status_code == 200


async def test_an_unknown_order_is_602023(clock: FakeClock) -> None:
    async with running(clock) as sim, client(sim) as http:
        detail = await http.get("/v1/trade/order", params={"order_id": "706388312699592704"})
        cancel = await http.delete("/v1/trade/order", params={"order_id": "706388312699592704"})
        assert (detail.status_code, detail.json()["code"]) == (400, 602023)
        assert cancel.json() == {"code": 602023, "message": "order not found", "data": None}


async def test_an_unknown_path_gets_a_404_envelope(clock: FakeClock) -> None:
    async with running(clock) as sim, client(sim) as http:
        response = await http.get("/v1/nothing/here")
        body = response.json()
        assert response.status_code == 404
        assert body["code"] != 0 and body["data"] is None and isinstance(body["message"], str)
        assert response.headers["x-trace-id"]


async def test_parameter_errors_are_400_602001_never_500(clock: FakeClock) -> None:
    async with running(clock) as sim, client(sim) as http:
        missing = await http.get("/v1/risk/margin-ratio")
        broken = await http.post("/v1/trade/order", content=b"{not json")
        wrong_type = await http.post("/v1/trade/order", json={"symbol": 700})
        bad_int = await http.get("/v1/asset/cashflow", params={"start_time": "yesterday"})
        for response in (missing, broken, wrong_type, bad_int):
            assert (response.status_code, response.json()["code"]) == (400, 602001)
            assert "Traceback" not in response.text


async def test_orders_round_trip_with_sdk_exact_wire_types(clock: FakeClock) -> None:
    async with running(clock) as sim, client(sim) as http:
        body = {
            "symbol": "700.HK",
            "order_type": "LO",
            "side": "Buy",
            "submitted_quantity": "100",
            "time_in_force": "Day",
            "submitted_price": "300",
            "remark": "sim-0001",
        }
        submitted = (await http.post("/v1/trade/order", content=json.dumps(body))).json()
        order_id = submitted["data"]["order_id"]
        assert isinstance(order_id, str) and order_id.isdigit()
        [order] = (await http.get("/v1/trade/order/today", params={"status": "NewStatus"})).json()[
            "data"
        ]["orders"]
        assert order["order_id"] == order_id and order["remark"] == "sim-0001"
        assert order["submitted_at"] == str(int(clock.now))
        assert order["executed_price"] == "0" and order["last_done"] == ""
        assert order["limit_depth_level"] == 0 and order["trigger_count"] == 0
        assert order["outside_rth"] == "UnknownOutsideRth" and order["tag"] == "Normal"
        replaced = await http.put(
            "/v1/trade/order", json={"order_id": order_id, "quantity": "200", "price": "300.2"}
        )
        assert replaced.json() == {"code": 0, "message": "success", "data": {}}
        cancelled = await http.delete("/v1/trade/order", params={"order_id": order_id})
        assert cancelled.json()["data"] == {}
        detail = (await http.get("/v1/trade/order", params={"order_id": order_id})).json()["data"]
        assert detail["status"] == "CanceledStatus" and detail["quantity"] == "200"
        assert detail["history"][0]["status"] == "CanceledStatus"  # newest first


async def test_the_socket_token_is_a_one_time_password(clock: FakeClock) -> None:
    async with running(clock) as sim, client(sim) as http:
        data = (await http.get("/v1/socket/token")).json()["data"]
        assert data["limit"] == 10 and data["online"] < data["limit"]
        assert sim.consume_otp(data["otp"]) and not sim.consume_otp(data["otp"])
