"""Fan-out scheduling: a push is announced at once while the client keeps up; updates
coalesce only when the client is slower than the feed."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from decimal import Decimal

import anyio
import pytest
from mcp.server.subscriptions import InMemorySubscriptionBus

from lb_mcp.sdk.enums import TradeSession, TradeStatus
from lb_mcp.sdk.quote.models import PushQuote
from lb_mcp.server.streams.store import QuoteStreams, quote_uri

pytestmark = pytest.mark.anyio

SYMBOL = "700.HK"


def _push(sequence: int) -> PushQuote:
    price = Decimal("321.4")
    return PushQuote(
        last_done=price, open=price, high=price, low=price,
        timestamp=datetime(2025, 11, 13, 2, 30, tzinfo=UTC), volume=100, turnover=price,
        trade_status=TradeStatus.Normal, trade_session=TradeSession.Intraday,
        current_volume=1, current_turnover=price, sequence=sequence,
    )  # fmt: skip


class Session:
    """A legacy subscriber; ``gate`` makes it slow (each send waits for it)."""

    def __init__(self, gate: asyncio.Event | None = None) -> None:
        self.sent: list[str] = []
        self.gate = gate
        self.changed = asyncio.Event()

    async def send_resource_updated(self, uri: str) -> None:
        if self.gate is not None:
            await self.gate.wait()
        self.sent.append(uri)
        self.changed.set()
        self.changed = asyncio.Event()

    async def wait_for(self, count: int) -> None:
        while len(self.sent) < count:
            await self.changed.wait()


async def test_each_push_is_announced_without_waiting_for_the_interval() -> None:
    # An interval far longer than the test: only the feed outpacing the client may wait for it.
    streams = QuoteStreams(InMemorySubscriptionBus(), interval_s=30.0)
    streams.add([SYMBOL])
    session = Session()
    streams.legacy_subscribe(quote_uri(SYMBOL), session)
    fanout = asyncio.create_task(streams.run_fanout())
    try:
        with anyio.fail_after(5):
            for sequence in range(1, 21):  # a steady stream the client keeps up with
                streams.on_push(SYMBOL, _push(sequence))
                await session.wait_for(sequence)
    finally:
        fanout.cancel()
    assert session.sent == [quote_uri(SYMBOL)] * 20


async def test_a_client_slower_than_the_feed_gets_coalesced_updates() -> None:
    streams = QuoteStreams(InMemorySubscriptionBus(), interval_s=0.01)
    streams.add([SYMBOL])
    gate = asyncio.Event()
    session = Session(gate)
    streams.legacy_subscribe(quote_uri(SYMBOL), session)
    fanout = asyncio.create_task(streams.run_fanout())
    try:
        with anyio.fail_after(5):
            streams.on_push(SYMBOL, _push(1))
            await asyncio.sleep(0)
            await asyncio.sleep(0)  # the first round is sending (blocked on the client)
            for sequence in range(2, 101):  # the feed runs ahead meanwhile
                streams.on_push(SYMBOL, _push(sequence))
            gate.set()
            await session.wait_for(2)
    finally:
        fanout.cancel()
    assert session.sent == [quote_uri(SYMBOL)] * 2  # 100 pushes, two announcements
    entry = streams.latest(SYMBOL)
    assert entry is not None and entry.updates == 100
