"""Every read tool through an in-process MCP client, in both protocol eras, on the simulator."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from .appkit import MODES, connected, step

pytestmark = pytest.mark.anyio


async def call(client: Any, name: str, args: dict[str, Any] | None = None) -> dict[str, Any]:
    result = await client.call_tool(name, args or {})
    assert not result.is_error, result.content
    assert result.structured_content is not None
    return result.structured_content


@pytest.mark.parametrize("mode", MODES)
async def test_every_tool_declares_all_four_hints_and_a_string_money_schema(
    tmp_path: Path, mode: str
) -> None:
    async with connected(tmp_path, mode) as (_, client):
        tools = {t.name: t for t in (await client.list_tools()).tools}
        expected = {
            "account_balance",
            "stock_positions",
            "fund_positions",
            "margin_ratio",
            "cash_flow",
            "estimate_max_purchase_quantity",
            "quote",
            "static_info",
            "depth",
            "trades",
            "intraday",
            "candlesticks",
            "trading_session",
            "trading_days",
            "subscribe",
            "unsubscribe",
            "subscriptions",
            "poll_quotes",
            "portfolio",
            "status",
        }
        assert expected <= set(tools)
        for name in expected:
            a = tools[name].annotations
            assert a is not None, name
            hints = (a.read_only_hint, a.destructive_hint, a.idempotent_hint, a.open_world_hint)
            assert None not in hints, name
            assert tools[name].output_schema is not None, name
            assert tools[name].description
        # Nested models are published as plain objects (budget.py); a top-level money field
        # still says string, and the payload carries strings.
        portfolio_schema = tools["portfolio"].output_schema
        assert portfolio_schema is not None
        assert portfolio_schema["properties"]["total_market_value_base"]["type"] == "string"
        quoted = await call(client, "quote", {"symbols": ["700.HK"]})
        assert isinstance(quoted["quotes"][0]["last_done"], str)
        assert tools["quote"].annotations.read_only_hint is True
        assert tools["subscribe"].annotations.read_only_hint is False


@pytest.mark.parametrize("mode", MODES)
async def test_status_says_sandbox_trading_on_and_the_limits(tmp_path: Path, mode: str) -> None:
    async with connected(tmp_path, mode) as (_, client):
        data = await call(client, "status")
        assert data["mode"] == "sandbox"
        assert data["trading_enabled"] is True
        assert data["limits"]["max_order_notional"] == "100000"
        assert data["subscription_limit"] == 500
        assert "SANDBOX" in (client.instructions or "") or mode != "legacy"


@pytest.mark.parametrize("mode", MODES)
async def test_account_tools_return_exact_decimal_strings(tmp_path: Path, mode: str) -> None:
    async with connected(tmp_path, mode) as (_, client):
        bal = await call(client, "account_balance")
        hkd = bal["balances"][0]
        assert hkd["currency"] == "HKD"
        assert Decimal(hkd["total_cash"]) > 0 and isinstance(hkd["total_cash"], str)
        pos = await call(client, "stock_positions")
        assert pos["count"] == len(pos["positions"]) > 0
        tencent = next(p for p in pos["positions"] if p["symbol"] == "700.HK")
        assert tencent["quantity"] == "200"
        funds = await call(client, "fund_positions")
        assert funds["count"] == len(funds["positions"])
        margin = await call(client, "margin_ratio", {"symbol": "700.HK"})
        assert Decimal(margin["im_factor"]) >= 0
        flows = await call(client, "cash_flow", {"size": 5})
        assert flows["size"] == 5 and len(flows["flows"]) <= 5
        est = await call(
            client,
            "estimate_max_purchase_quantity",
            {"symbol": "700.HK", "side": "Buy", "price": "400"},
        )
        assert Decimal(est["cash_max_qty"]) > 0


@pytest.mark.parametrize("mode", MODES)
async def test_quote_tools_serve_the_simulated_market(tmp_path: Path, mode: str) -> None:
    async with connected(tmp_path, mode) as (sim, client):
        q = await call(client, "quote", {"symbols": ["00700.hk", "AAPL.US", "NOPE.US"]})
        assert [x["symbol"] for x in q["quotes"]] == ["700.HK", "AAPL.US"]
        assert q["unknown"] == ["NOPE.US"]
        assert Decimal(q["quotes"][0]["last_done"]) == sim.market.quote("700.HK").last_done
        info = await call(client, "static_info", {"symbols": ["700.HK"]})
        assert info["securities"][0]["lot_size"] == 100
        assert "simulated" in info["note"]  # sandbox mode says so
        depth = await call(client, "depth", {"symbol": "700.HK"})
        assert depth["asks"] and depth["bids"]
        sim.market.step()
        trades = await call(client, "trades", {"symbol": "700.HK", "count": 3})
        assert 1 <= len(trades["trades"]) <= 3
        intraday = await call(client, "intraday", {"symbol": "700.HK", "limit": 5})
        assert len(intraday["lines"]) <= 5
        bars = await call(client, "candlesticks", {"symbol": "700.HK", "count": 5})
        assert 1 <= len(bars["bars"]) <= 5 and bars["period"] == "day"
        sessions = await call(client, "trading_session")
        assert {m["market"] for m in sessions["markets"]} >= {"HK", "US"}
        days = await call(
            client, "trading_days", {"market": "HK", "begin": "2025-11-03", "end": "2025-11-28"}
        )
        assert "2025-11-03" in days["trading_days"]


@pytest.mark.parametrize("mode", MODES)
async def test_portfolio_values_positions_at_the_live_price_and_totals_in_hkd(
    tmp_path: Path, mode: str
) -> None:
    async with connected(tmp_path, mode) as (sim, client):
        pf = await call(client, "portfolio")
        assert pf["base_currency"] == "HKD"
        tencent = next(h for h in pf["holdings"] if h["symbol"] == "700.HK")
        last = sim.market.quote("700.HK").last_done
        assert Decimal(tencent["market_value"]) == Decimal(tencent["quantity"]) * last
        assert Decimal(tencent["unrealized_pnl"]) == Decimal(tencent["market_value"]) - Decimal(
            tencent["cost"]
        )
        allocations = [Decimal(h["allocation_pct"]) for h in pf["holdings"]]
        assert abs(sum(allocations) - 100) < Decimal("0.1")
        hkd = next(t for t in pf["totals"] if t["currency"] == "HKD")
        assert hkd["rate_to_base"] == "1.000000"
        assert Decimal(pf["total_market_value_base"]) > Decimal(hkd["market_value"]) - 1


@pytest.mark.parametrize("mode", MODES)
async def test_subscribe_then_poll_quotes_returns_updates_after_the_cursor(
    tmp_path: Path, mode: str
) -> None:
    async with connected(tmp_path, mode) as (sim, client):
        subs = await call(client, "subscribe", {"symbols": ["700.HK", "AAPL.US"]})
        assert subs["symbols"] == ["700.HK", "AAPL.US"] or subs["count"] == 2
        first = await call(client, "poll_quotes", {"cursor": 0})
        assert {u["symbol"] for u in first["updates"]} == {"700.HK", "AAPL.US"}
        cursor = first["cursor"]
        empty = await call(client, "poll_quotes", {"cursor": cursor})
        assert empty["updates"] == []
        await step(sim, 2)
        after = await call(client, "poll_quotes", {"cursor": cursor})
        assert {u["symbol"] for u in after["updates"]} == {"700.HK", "AAPL.US"}
        assert after["missed"] == 2  # two steps, latest kept per symbol
        assert after["cursor"] > cursor
        listed = await call(client, "subscriptions")
        assert listed["count"] == 2
        gone = await call(client, "unsubscribe", {"symbols": ["AAPL.US"]})
        assert gone["symbols"] == ["700.HK"]


@pytest.mark.parametrize("mode", MODES)
async def test_a_subscription_counts_its_pulled_snapshot_once_and_then_one_update_per_push(
    tmp_path: Path, mode: str
) -> None:
    async with connected(tmp_path, mode) as (sim, client):
        await call(client, "subscribe", {"symbols": ["700.HK"]})
        await step(sim)
        [entry] = (await call(client, "poll_quotes", {"cursor": 0}))["updates"]
        # snapshot + one push; a first-push snapshot from the broker would make it 3
        assert entry["updates"] == 2
        assert Decimal(entry["last_done"]) == sim.market.quote("700.HK").last_done


@pytest.mark.parametrize("mode", MODES)
async def test_daily_bars_carry_the_exchange_local_trading_date_and_end_with_today(
    tmp_path: Path, mode: str
) -> None:
    async with connected(tmp_path, mode) as (_sim, client):
        quote = (await call(client, "quote", {"symbols": ["700.HK"]}))["quotes"][0]
        bars = (await call(client, "candlesticks", {"symbol": "700.HK", "count": 3}))["bars"]
        hk = ZoneInfo("Asia/Hong_Kong")
        today = datetime.fromisoformat(quote["timestamp"]).astimezone(hk).date().isoformat()
        # HK daily bars open at HK midnight: 16:00 UTC the day before, so the UTC stamp alone
        # would name the wrong day.
        assert [b["date"] for b in bars] == sorted({b["date"] for b in bars})
        assert bars[-1]["date"] == today
        assert bars[-1]["close"] == quote["last_done"]
        minutes = (
            await call(client, "candlesticks", {"symbol": "700.HK", "period": "1m", "count": 2})
        )["bars"]
        assert all(b["date"] is None for b in minutes)
