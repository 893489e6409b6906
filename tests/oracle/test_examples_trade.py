"""The trade-side calls of Longbridge's published ``examples/python`` (submit order, submit with
an attached bracket, today's orders, account asset, the raw ``HttpClient``) through the official
SDK against ``lb-mcp sim``, checked by value."""

from __future__ import annotations

import json
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from longbridge.openapi import (
    AttachedOrderType,
    HttpClient,
    OrderSide,
    OrderStatus,
    OrderType,
    OutsideRTH,
    SubmitAttachedParams,
    TimeInForceType,
    TradeContext,
)

from .conftest import SimProcess

pytestmark = pytest.mark.timeout(60)


@pytest.fixture(scope="module")
def ctx(official_config: Any) -> Iterator[Any]:
    yield TradeContext(official_config)


def test_the_market_order_example_is_accepted_and_listed_today(ctx: Any) -> None:
    resp = ctx.submit_order(
        side=OrderSide.Buy,
        symbol="700.HK",
        order_type=OrderType.MO,
        submitted_quantity=Decimal(200),
        time_in_force=TimeInForceType.Day,
        outside_rth=OutsideRTH.AnyTime,
        remark="Hello from Python SDK",
    )
    assert resp.order_id.isdigit()
    order = {o.order_id: o for o in ctx.today_orders()}[resp.order_id]
    assert (order.symbol, order.quantity, order.remark) == (
        "700.HK",
        Decimal(200),
        "Hello from Python SDK",
    )
    assert order.status != OrderStatus.Rejected


def test_the_bracket_example_is_accepted_as_a_limit_order(ctx: Any) -> None:
    resp = ctx.submit_order(
        symbol="AAPL.US",
        order_type=OrderType.LO,
        side=OrderSide.Buy,
        submitted_quantity=Decimal(1),
        time_in_force=TimeInForceType.Day,
        submitted_price=Decimal(200),
        attached_params=SubmitAttachedParams(
            AttachedOrderType.Bracket,
            profit_taker_price=Decimal(220),
            stop_loss_price=Decimal(180),
        ),
    )
    detail = ctx.order_detail(resp.order_id)
    assert (detail.symbol, detail.order_type, detail.price) == ("AAPL.US", OrderType.LO, 200)


def test_the_account_asset_example_reports_hkd_cash(ctx: Any) -> None:
    (balance,) = ctx.account_balance()
    assert balance.currency == "HKD" and balance.net_assets > 0
    assert {c.currency for c in balance.cash_infos} >= {"HKD", "USD"}


def test_the_http_client_example_gets_todays_executions(sim_process: SimProcess) -> None:
    env = sim_process.env
    client = HttpClient.from_apikey(
        env["LONGBRIDGE_APP_KEY"],
        env["LONGBRIDGE_APP_SECRET"],
        env["LONGBRIDGE_ACCESS_TOKEN"],
        http_url=env["LONGBRIDGE_HTTP_URL"],
    )
    resp = client.request("get", "/v1/trade/execution/today")
    data = resp if isinstance(resp, dict) else json.loads(resp)
    assert isinstance(data["trades"], list)
    assert all(t["trade_done_at"].isdigit() for t in data["trades"])
