"""Streamed-quote resources: read, list, and update notifications in both protocol eras."""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import anyio
import mcp_types as types
import pytest
from mcp.shared.exceptions import MCPDeprecationWarning, MCPError

from .appkit import MODES, connected

pytestmark = pytest.mark.anyio
URI = "longbridge://quote/700.HK"


@pytest.mark.parametrize("mode", MODES)
async def test_the_quote_template_and_subscriptions_resource_are_listed_and_readable(
    tmp_path: Path, mode: str
) -> None:
    async with connected(tmp_path, mode) as (sim, client):
        templates = await client.list_resource_templates()
        assert "longbridge://quote/{symbol}" in [
            t.uri_template for t in templates.resource_templates
        ]
        await client.call_tool("subscribe", {"symbols": ["700.HK"]})
        read = await client.read_resource(URI)
        body = json.loads(read.contents[0].text)
        assert body["symbol"] == "700.HK"
        assert body["last_done"] == str(sim.market.quote("700.HK").last_done)
        assert body["age_s"] >= 0 and body["timestamp"].endswith("Z")
        subs = json.loads(
            (await client.read_resource("longbridge://subscriptions")).contents[0].text
        )
        assert subs == {"symbols": ["700.HK"], "count": 1, "limit": 500}


@pytest.mark.parametrize("mode", MODES)
async def test_reading_an_unsubscribed_quote_is_a_marked_snapshot_not_an_error(
    tmp_path: Path, mode: str
) -> None:
    async with connected(tmp_path, mode) as (sim, client):
        read = await client.read_resource("longbridge://quote/AAPL.US")
        body = json.loads(read.contents[0].text)
        assert body["snapshot"] is True
        assert body["last_done"] == str(sim.market.quote("AAPL.US").last_done)
        with pytest.raises(MCPError) as err:
            await client.read_resource("longbridge://quote/NOPE.US")
        assert "UNKNOWN_SYMBOL" in str(err.value)
        assert not (await client.call_tool("status", {})).is_error


async def test_legacy_resources_subscribe_gets_coalesced_updated_notifications(
    tmp_path: Path,
) -> None:
    seen: list[str] = []
    arrived = anyio.Event()

    async def on_message(message: Any) -> None:
        root = getattr(message, "root", message)
        if isinstance(root, types.ResourceUpdatedNotification):
            seen.append(str(root.params.uri))
            arrived.set()

    async with connected(tmp_path, "legacy", message_handler=on_message) as (sim, client):
        assert client.server_capabilities.resources.subscribe is True
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", MCPDeprecationWarning)
            await client.session.subscribe_resource(URI)  # also subscribes 700.HK at the broker
        with anyio.fail_after(5):
            await arrived.wait()  # the initial snapshot
        arrived = anyio.Event()
        seen.clear()
        for _ in range(5):
            sim.market.step()
        with anyio.fail_after(5):
            await arrived.wait()
        assert set(seen) <= {URI, "longbridge://subscriptions"}
        assert 1 <= seen.count(URI) <= 5  # coalesced: never more than one per push
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", MCPDeprecationWarning)
            await client.session.unsubscribe_resource(URI)


async def test_modern_subscriptions_listen_gets_resource_updated_after_a_market_step(
    tmp_path: Path,
) -> None:
    async with connected(tmp_path, "auto") as (sim, client):
        await client.call_tool("subscribe", {"symbols": ["700.HK"]})
        async with client.listen(resource_subscriptions=[URI]) as sub:
            sim.market.step()
            with anyio.fail_after(5):
                async for event in sub:
                    assert event.uri == URI
                    break
        body = json.loads((await client.read_resource(URI)).contents[0].text)
        assert body["last_done"] == str(sim.market.quote("700.HK").last_done)


@pytest.mark.parametrize("mode", MODES)
async def test_poll_quotes_waits_for_the_next_update_without_polling(
    tmp_path: Path, mode: str
) -> None:
    async with connected(tmp_path, mode) as (sim, client):
        await client.call_tool("subscribe", {"symbols": ["700.HK"]})
        first = (await client.call_tool("poll_quotes", {"cursor": 0})).structured_content
        cursor = first["cursor"]
        result: dict[str, Any] = {}
        done = anyio.Event()

        async def waiter() -> None:
            r = await client.call_tool("poll_quotes", {"cursor": cursor, "wait_s": 10})
            result.update(r.structured_content or {})
            done.set()

        with anyio.fail_after(5):
            async with anyio.create_task_group() as tg:
                tg.start_soon(waiter)
                # The server task's progress is not observable from here; give it a moment to
                # reach its wait, then push. Returning early would show as an empty update list.
                await anyio.sleep(0.2)
                assert not done.is_set()
                sim.market.step()
        assert [u["symbol"] for u in result["updates"]] == ["700.HK"]
        assert result["cursor"] > cursor


@pytest.mark.parametrize("mode", MODES)
async def test_poll_quotes_with_a_stale_cursor_from_another_run_resets(
    tmp_path: Path, mode: str
) -> None:
    async with connected(tmp_path, mode) as (_, client):
        await client.call_tool("subscribe", {"symbols": ["700.HK"]})
        r = (await client.call_tool("poll_quotes", {"cursor": 10_000})).structured_content
        assert r["reset"] is True and [u["symbol"] for u in r["updates"]] == ["700.HK"]
