"""The bounded, coalescing push buffer and the push merge rules."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import anyio
import anyio.lowlevel
import pytest

from lb_mcp.sdk.enums import TradeDirection, TradeSession, TradeStatus
from lb_mcp.sdk.quote.models import Depth, PushDepth, PushQuote, PushTrades, Trade
from lb_mcp.sdk.quote.wire import MAX_COALESCED_TRADES, coalesce
from lb_mcp.sdk.transport.buffer import PushBuffer

pytestmark = pytest.mark.anyio

T = datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)


def quote(sequence: int) -> PushQuote:
    return PushQuote(
        last_done=Decimal(sequence),
        open=Decimal(1),
        high=Decimal(2),
        low=Decimal(1),
        timestamp=T,
        volume=sequence,
        turnover=Decimal(0),
        trade_status=TradeStatus.Normal,
        trade_session=TradeSession.Intraday,
        current_volume=1,
        current_turnover=Decimal(1),
        sequence=sequence,
    )


def test_a_flood_of_10000_pushes_for_3_symbols_leaves_3_entries_with_missed_counts() -> None:
    buffer: PushBuffer[str, PushQuote] = PushBuffer(capacity=100)
    symbols = ["700.HK", "AAPL.US", "D05.SG"]
    for n in range(10_000):
        buffer.put(symbols[n % 3], quote(n))
    assert len(buffer) == 3
    delivered = [buffer.get_nowait() for _ in range(3)]
    assert buffer.get_nowait() is None
    assert [d.key for d in delivered if d] == symbols  # oldest key first
    assert [d.value.sequence for d in delivered if d] == [9999, 9997, 9998]
    assert sum(d.missed + 1 for d in delivered if d) == 10_000
    assert buffer.stats.high_water == 3
    assert buffer.stats.coalesced == 10_000 - 3


def test_when_capacity_is_reached_the_oldest_entry_is_dropped_and_counted() -> None:
    buffer: PushBuffer[str, int] = PushBuffer(capacity=2)
    for key in ("a", "b", "c"):
        buffer.put(key, 1)
    assert len(buffer) == 2
    assert buffer.stats.evicted == 1
    first = buffer.get_nowait()
    assert first is not None and first.key == "b"


async def test_a_waiting_consumer_wakes_on_put_and_iteration_ends_on_close() -> None:
    buffer: PushBuffer[str, int] = PushBuffer()
    got: list[int] = []
    async with anyio.create_task_group() as tg:

        async def consume() -> None:
            async for item in buffer:
                got.append(item.value)

        tg.start_soon(consume)
        await anyio.lowlevel.checkpoint()
        buffer.put("a", 1)
        await anyio.lowlevel.checkpoint()
        buffer.put("a", 2)
        buffer.close()
        buffer.put("a", 3)  # ignored once closed
    assert got == [1, 2]


def test_coalesced_depth_levels_are_upserted_by_position() -> None:
    def level(position: int, price: str) -> Depth:
        return Depth(position=position, price=Decimal(price), volume=1, order_num=1)

    old = PushDepth(asks=[level(1, "10"), level(2, "11")], bids=[], sequence=1)
    new = PushDepth(asks=[level(2, "12")], bids=[level(1, "9")], sequence=2)
    merged = coalesce(old, new)
    assert isinstance(merged, PushDepth)
    assert [a.price for a in merged.asks] == [Decimal("10"), Decimal("12")]
    assert [b.price for b in merged.bids] == [Decimal("9")]
    assert merged.sequence == 2


def test_coalesced_trades_are_appended_up_to_a_cap() -> None:
    def trades(n: int, sequence: int) -> PushTrades:
        trade = Trade(
            price=Decimal(1),
            volume=1,
            timestamp=T,
            trade_type="",
            direction=TradeDirection.Up,
            trade_session=TradeSession.Intraday,
        )
        return PushTrades(trades=[trade] * n, sequence=sequence)

    merged = coalesce(trades(2, 1), trades(3, 2))
    assert isinstance(merged, PushTrades) and len(merged.trades) == 5
    capped = coalesce(trades(MAX_COALESCED_TRADES, 1), trades(5, 2))
    assert isinstance(capped, PushTrades) and len(capped.trades) == MAX_COALESCED_TRADES


def test_coalesced_quotes_keep_the_newest_merged_state() -> None:
    assert coalesce(quote(1), quote(2)) == quote(2)
