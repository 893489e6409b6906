"""The server's quote stream reads ``QuoteContext.pushes()``: pushes the SDK folded still count."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import anyio
import pytest
from mcp.server.subscriptions import InMemorySubscriptionBus

from lb_mcp.sdk.enums import SubType, TradeDirection, TradeSession, TradeStatus
from lb_mcp.sdk.quote.feed import QuotePush
from lb_mcp.sdk.quote.models import Depth, PushDepth, PushQuote, PushTrades, Trade
from lb_mcp.server.streams.kinds import MAX_TRADES_KEPT, DepthEntry, TradesEntry
from lb_mcp.server.streams.store import QuoteStreams

from .appkit import MODES, connected, watch
from .test_tools_read import call

pytestmark = pytest.mark.anyio

BURST = 7


@pytest.mark.parametrize("mode", MODES)
async def test_a_reader_that_falls_behind_a_burst_is_told_every_update_it_missed(
    tmp_path: Path, mode: str
) -> None:
    async with connected(tmp_path, mode) as (sim, client):
        await call(client, "subscribe", {"symbols": ["700.HK"]})
        cursor = (await call(client, "poll_quotes", {"cursor": 0}))["cursor"]
        before = (await call(client, "status"))["pushes_received"]
        [quotes] = watch(sim)
        # The server stops reading while the market moves, so the SDK folds the pushes.
        async with quotes.hold():
            for _ in range(BURST):
                sim.market.step()
            with anyio.fail_after(5):
                await quotes.all_received(sim)
        with anyio.fail_after(5):
            await quotes.caught_up(sim)
        after = await call(client, "poll_quotes", {"cursor": cursor})
        status = await call(client, "status")
    [entry] = after["updates"]
    assert Decimal(entry["last_done"]) == sim.market.quote("700.HK").last_done
    assert after["missed"] == BURST - 1
    assert entry["updates"] == 1 + BURST  # the subscribe snapshot, then every push
    assert status["pushes_received"] - before == BURST


def _push(price: str, sequence: int) -> PushQuote:
    return PushQuote(
        last_done=Decimal(price),
        open=Decimal(price),
        high=Decimal(price),
        low=Decimal(price),
        timestamp=datetime(2025, 11, 13, 2, 30, tzinfo=UTC),
        volume=100,
        turnover=Decimal(price) * 100,
        trade_status=TradeStatus.Normal,
        trade_session=TradeSession.Intraday,
        current_volume=100,
        current_turnover=Decimal(price) * 100,
        sequence=sequence,
    )


async def _feed(items: list[QuotePush]) -> AsyncIterator[QuotePush]:
    for item in items:
        yield item


async def test_each_folded_push_is_one_missed_update_and_other_feeds_are_ignored() -> None:
    streams = QuoteStreams(InMemorySubscriptionBus())
    streams.add(["700.HK"])
    await streams.consume(
        _feed(
            [
                QuotePush("700.HK", SubType.Quote, _push("400", 1)),
                QuotePush("700.HK", SubType.Quote, _push("402", 6), missed=4),
                QuotePush("9988.HK", SubType.Quote, _push("120", 3), missed=2),
                QuotePush("700.HK", SubType.Depth, PushDepth(asks=[], bids=[]), missed=9),
            ]
        )
    )
    changes = streams.changes_since(0)
    [entry] = changes.entries
    assert (entry.last_done, entry.updates) == (Decimal("402"), 6)
    assert (changes.missed, changes.cursor) == (5, 6)
    assert streams.pushes_received == 6 + 3  # the unsubscribed symbol's too


def _print(price: str, second: int) -> Trade:
    return Trade(
        price=Decimal(price),
        volume=100,
        timestamp=datetime(2025, 11, 13, 2, 30, second, tzinfo=UTC),
        trade_type="",
        direction=TradeDirection.Up,
        trade_session=TradeSession.Intraday,
    )


async def test_trades_are_kept_per_push_bounded_and_counted_as_missed_only_when_trimmed() -> None:
    streams = QuoteStreams(InMemorySubscriptionBus())
    streams.add_kind("trades", ["700.HK"])
    streams.add_kind("depth", ["700.HK"])
    for n in range(3):
        streams.on_trades("700.HK", PushTrades(trades=[_print(f"40{n}", n)]))
    level = Depth(position=1, price=Decimal("400"), volume=100, order_num=1)
    streams.on_depth("700.HK", PushDepth(asks=[level], bids=[]))
    streams.on_depth("700.HK", PushDepth(asks=[], bids=[level]), missed=2)
    changes = streams.changes_since(0)
    [prints] = [e for e in changes.entries if isinstance(e, TradesEntry)]
    assert [t.price for _, t in prints.trades] == [Decimal("400"), Decimal("401"), Decimal("402")]
    [book] = [e for e in changes.entries if isinstance(e, DepthEntry)]
    assert (book.asks, book.bids, book.updates) == ((level,), (level,), 4)  # upserted
    assert changes.missed == 3  # the depth updates folded into the latest book, no prints
    later = streams.changes_since(prints.seq - 1)  # a cursor after the first two prints
    assert [t.price for e in later.entries if isinstance(e, TradesEntry) for _, t in e.trades] == [
        Decimal("402")
    ]
    for n in range(MAX_TRADES_KEPT + 5):  # one print per push: the oldest five fall off
        streams.on_trades("700.HK", PushTrades(trades=[_print("410", n % 60)]))
    flood = streams.changes_since(changes.cursor)
    [prints] = [e for e in flood.entries if isinstance(e, TradesEntry)]
    assert len(prints.trades) == MAX_TRADES_KEPT and flood.missed == 5
    streams.remove_kind("trades", ["700.HK"])
    assert streams.latest_trades("700.HK") is None and streams.kinds_of("700.HK") == ["depth"]
