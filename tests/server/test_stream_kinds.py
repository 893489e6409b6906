"""Depth, trades and candlestick streams through a real MCP client, as an agent would use them:
subscribe with ``kinds`` -> ``poll_quotes`` -> read the resource -> unsubscribe; snapshots for
unstreamed resources; ``subscriptions/listen`` subscribing by itself; bad input with stable
codes. Both protocol eras where the flow exists in both."""

from __future__ import annotations

import json
import warnings
from decimal import Decimal
from pathlib import Path
from typing import Any

import anyio
import mcp_types as types
import pytest
from mcp.shared.exceptions import MCPDeprecationWarning, MCPError

from lb_mcp.server.tools import subscription

from .appkit import MODES, connected
from .test_tools_read import call

pytestmark = pytest.mark.anyio


async def _error(client: Any, name: str, args: dict[str, Any]) -> str:
    result = await client.call_tool(name, args)
    assert result.is_error, result.structured_content
    code: str = result.structured_content["error"]["code"]
    return code


async def _poll_until(client: Any, cursor: int, key: str) -> dict[str, Any]:
    """poll_quotes with waits until ``key`` has an entry; the answer that had it."""
    with anyio.fail_after(10):
        while True:
            r = await call(client, "poll_quotes", {"cursor": cursor, "wait_s": 5})
            if r[key]:
                return r
            cursor = r["cursor"]


@pytest.mark.parametrize("mode", MODES)
async def test_depth_flow_subscribe_poll_read_unsubscribe(tmp_path: Path, mode: str) -> None:
    async with connected(tmp_path, mode) as (sim, client):
        subs = await call(client, "subscribe", {"symbols": ["700.HK"], "kinds": ["depth"]})
        assert (subs["symbols"], subs["depth"], subs["trades"]) == (["700.HK"], ["700.HK"], [])
        first = await call(client, "poll_quotes", {"cursor": 0})
        assert first["updates"] == []  # no quote stream was asked for
        [book] = first["depth"]  # the book pulled at subscribe time
        pulled = sim.market.depth("700.HK")
        assert [Decimal(a["price"]) for a in book["asks"]] == [a.price for a in pulled.asks][:10]
        sim.market.step()
        later = await _poll_until(client, first["cursor"], "depth")
        [book] = later["depth"]
        now = sim.market.depth("700.HK")
        assert [Decimal(b["price"]) for b in book["bids"]] == [b.price for b in now.bids][:10]
        assert book["updates"] >= 2 and later["cursor"] > first["cursor"]
        body = json.loads((await client.read_resource(book["uri"])).contents[0].text)
        assert body["symbol"] == "700.HK" and "snapshot" not in body
        assert body["bids"] == book["bids"]
        await call(client, "unsubscribe", {"symbols": ["700.HK"], "kinds": ["depth"]})
        assert await _error(client, "poll_quotes", {"cursor": later["cursor"]}) == "NOT_SUBSCRIBED"


@pytest.mark.parametrize("mode", MODES)
async def test_trades_flow_delivers_each_print_once(tmp_path: Path, mode: str) -> None:
    async with connected(tmp_path, mode) as (sim, client):
        await call(client, "subscribe", {"symbols": ["AAPL.US"], "kinds": ["quote", "trades"]})
        cursor = (await call(client, "poll_quotes", {"cursor": 0}))["cursor"]
        sim.market.step()
        r = await _poll_until(client, cursor, "trades")
        [prints] = r["trades"]
        expected = sim.market.trades("AAPL.US", len(prints["trades"]))
        assert [Decimal(t["price"]) for t in prints["trades"]] == [t.price for t in expected]
        again = await call(client, "poll_quotes", {"cursor": r["cursor"]})
        assert again["trades"] == []  # nothing new since: the prints are not repeated
        body = json.loads((await client.read_resource(prints["uri"])).contents[0].text)
        assert body["trades"] == prints["trades"]
        gone = await call(client, "unsubscribe", {"symbols": ["AAPL.US"]})  # every kind
        assert gone["symbols"] == [] and gone["count"] == 0


@pytest.mark.parametrize("mode", MODES)
async def test_candles_flow_streams_the_bar_in_progress(tmp_path: Path, mode: str) -> None:
    async with connected(tmp_path, mode) as (sim, client):
        subs = await call(
            client, "subscribe", {"symbols": ["700.HK"], "kinds": ["candles"], "period": "1m"}
        )
        assert subs["candles"] == ["700.HK 1m"]
        first = await call(client, "poll_quotes", {"cursor": 0})
        [series] = first["candles"]
        assert series["period"] == "1m" and len(series["bars"]) == 1
        volume = series["bars"][0]["volume"]
        sim.market.step()
        r = await _poll_until(client, first["cursor"], "candles")
        [bar] = r["candles"][0]["bars"]
        assert bar["timestamp"] == series["bars"][0]["timestamp"]  # same minute: it grew
        assert bar["volume"] > volume and not bar["confirmed"]
        await call(client, "unsubscribe", {"symbols": ["700.HK"], "kinds": ["candles"]})
        assert (await call(client, "subscriptions"))["candles"] == []


@pytest.mark.parametrize("mode", MODES)
async def test_unstreamed_resources_answer_a_marked_snapshot(tmp_path: Path, mode: str) -> None:
    async with connected(tmp_path, mode) as (sim, client):
        quote = json.loads(
            (await client.read_resource("longbridge://quote/AAPL.US")).contents[0].text
        )
        assert quote["snapshot"] is True and quote["symbol"] == "AAPL.US"
        assert quote["last_done"] == str(sim.market.quote("AAPL.US").last_done)
        depth = json.loads(
            (await client.read_resource("longbridge://depth/700.HK")).contents[0].text
        )
        assert depth["snapshot"] is True and depth["asks"]
        trades = json.loads(
            (await client.read_resource("longbridge://trades/700.HK")).contents[0].text
        )
        assert trades["snapshot"] is True and len(trades["trades"]) <= 20
        assert (await call(client, "subscriptions"))["symbols"] == []  # reading subscribes nothing
        with pytest.raises(MCPError) as err:
            await client.read_resource("longbridge://quote/NOPE.US")
        assert "UNKNOWN_SYMBOL" in str(err.value)


async def test_listen_alone_subscribes_the_symbol(tmp_path: Path) -> None:
    uri = "longbridge://quote/700.HK"
    async with connected(tmp_path, "auto") as (sim, client):
        async with client.listen(resource_subscriptions=[uri]) as sub:
            assert (await call(client, "subscriptions"))["symbols"] == ["700.HK"]
            sim.market.step()
            with anyio.fail_after(5):
                async for event in sub:  # the subscribe's snapshot, then the push
                    assert event.uri == uri
                    body = json.loads((await client.read_resource(uri)).contents[0].text)
                    if body["updates"] >= 2:
                        break
        assert "snapshot" not in body
        assert body["last_done"] == str(sim.market.quote("700.HK").last_done)


async def test_listen_past_the_cap_is_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(subscription, "MAX_SYMBOLS", 1)
    async with connected(tmp_path, "auto") as (_, client):
        await call(client, "subscribe", {"symbols": ["700.HK"]})
        with pytest.raises(MCPError) as err:
            async with client.listen(resource_subscriptions=["longbridge://quote/AAPL.US"]):
                pass
        assert "SUBSCRIPTION_LIMIT" in str(err.value)
        assert (await call(client, "subscriptions"))["symbols"] == ["700.HK"]


async def test_legacy_resources_subscribe_to_depth_streams_it(tmp_path: Path) -> None:
    uri = "longbridge://depth/9988.HK"
    seen: list[str] = []
    arrived = anyio.Event()

    async def on_message(message: Any) -> None:
        root = getattr(message, "root", message)
        if isinstance(root, types.ResourceUpdatedNotification) and str(root.params.uri) == uri:
            seen.append(uri)
            arrived.set()

    async with connected(tmp_path, "legacy", message_handler=on_message) as (sim, client):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", MCPDeprecationWarning)
            await client.session.subscribe_resource(uri)
        assert (await call(client, "subscriptions"))["depth"] == ["9988.HK"]
        sim.market.step()
        with anyio.fail_after(5):
            await arrived.wait()
        body = json.loads((await client.read_resource(uri)).contents[0].text)
        assert body["symbol"] == "9988.HK" and body["bids"]


@pytest.mark.parametrize("mode", MODES)
async def test_bad_stream_input_gets_stable_codes(tmp_path: Path, mode: str) -> None:
    async with connected(tmp_path, mode) as (_, client):
        unknown = {"symbols": ["NOPE.US"], "kinds": ["depth"]}
        assert await _error(client, "subscribe", unknown) == "UNKNOWN_SYMBOL"
        bad_kind = {"symbols": ["700.HK"], "kinds": ["orders"]}
        assert await _error(client, "subscribe", bad_kind) == "INVALID_ARGUMENT"
        bad_period = {"symbols": ["700.HK"], "kinds": ["candles"], "period": "7m"}
        assert await _error(client, "subscribe", bad_period) == "INVALID_ARGUMENT"
        assert await _error(client, "subscribe", {"symbols": ["bad symbol"]}) == "BAD_SYMBOL"
        assert (await call(client, "subscriptions"))["symbols"] == []
        assert not (await client.call_tool("status", {})).is_error


@pytest.mark.parametrize("mode", MODES)
async def test_a_poll_over_its_budget_pages_every_kind_by_cursor(tmp_path: Path, mode: str) -> None:
    symbols = ["700.HK", "9988.HK", "5.HK", "AAPL.US", "TSLA.US", "NVDA.US"]
    async with connected(tmp_path, mode) as (sim, client):
        await call(
            client,
            "subscribe",
            {"symbols": symbols, "kinds": ["quote", "depth", "trades", "candles"]},
        )
        for _ in range(3):
            sim.market.step()
        await _poll_until(client, 0, "trades")
        cursor, seen, pages = 0, set(), 0
        while True:
            result = await client.call_tool("poll_quotes", {"cursor": cursor, "max_chars": 3000})
            assert not result.is_error and len(result.content[0].text) <= 3000
            page = result.structured_content
            for key in ("updates", "depth", "trades", "candles"):
                seen.update((key, e["symbol"]) for e in page[key])
            if not any(page[k] for k in ("updates", "depth", "trades", "candles")):
                break  # everything after the cursor has been seen
            pages += 1
            cursor = page["cursor"]
        assert pages > 2  # it did not fit in one answer
        assert {("depth", s) for s in symbols} <= seen and {("updates", s) for s in symbols} <= seen
