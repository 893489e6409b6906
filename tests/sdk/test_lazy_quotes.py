"""The feed keeps merged quotes unbuilt until read: what a reader sees equals the eager merge.

Under a flood most merged states are coalesced away, so :class:`QuoteFeed` merges PushQuote in
protobuf and builds the :class:`PushQuote` (six Decimals) only when a consumer, a stream or
``realtime_quote`` reads it. These tests pin that this changes nothing a reader can see.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lb_mcp.sdk.enums import SubType
from lb_mcp.sdk.quote.feed import QuoteFeed
from lb_mcp.sdk.quote.models import PushQuote
from lb_mcp.sdk.transport.buffer import PushBuffer
from lb_mcp.sdk.wire.commands import QuoteCommand
from lb_mcp.sdk.wire.proto import quote_pb2

from .test_hot_path import exact, reference_merge

SYMBOL = "700.HK"
QUOTE = int(QuoteCommand.PushQuoteData)

_DECIMAL = st.one_of(
    st.just(""),
    st.decimals(allow_nan=False, allow_infinity=False, places=3).map(str),
    st.integers(0, 10**9).map(str),
)
_PUSH = st.builds(
    quote_pb2.PushQuote,
    symbol=st.just(SYMBOL),
    last_done=_DECIMAL,
    open=_DECIMAL,
    high=_DECIMAL,
    low=_DECIMAL,
    timestamp=st.integers(0, 4_000_000_000),
    volume=st.one_of(st.just(0), st.integers(1, 2**40)),
    turnover=_DECIMAL,
    trade_status=st.integers(0, 140),
    trade_session=st.integers(0, 5),
    current_volume=st.integers(0, 2**40),
    current_turnover=_DECIMAL,
)


async def _no_refresh(symbols: list[str]) -> None:
    return None


def _feed() -> QuoteFeed:
    feed = QuoteFeed(buffer=None, contiguous=False, refresh=_no_refresh)
    feed.subs[SYMBOL] = {SubType.Quote}
    return feed


@settings(max_examples=200, deadline=None, derandomize=True, database=None)
@given(st.lists(st.tuples(_PUSH, st.booleans()), min_size=1, max_size=12))
def test_a_read_at_any_point_sees_the_eager_merge_of_every_push_so_far(
    steps: list[tuple[Any, bool]],
) -> None:
    async def run() -> None:
        feed = _feed()
        expected: PushQuote | None = None
        for sequence, (message, read_now) in enumerate(steps, start=1):
            message.sequence = sequence
            feed.on_push(QUOTE, message.SerializeToString())
            expected = reference_merge(message, expected)
            if read_now:  # reads build the state; pushes after them merge into what was built
                got = feed.quote(SYMBOL)
                assert got is not None and exact(got) == exact(expected)
        final = feed.quote(SYMBOL)
        assert final is not None and exact(final) == exact(expected)
        (realtime,) = feed.store.realtime_quote([SYMBOL])
        assert (realtime.last_done, realtime.volume, realtime.timestamp) == (
            expected.last_done,
            expected.volume,
            expected.timestamp,
        )
        await feed.close()

    asyncio.run(run())


@pytest.mark.anyio
async def test_a_lagging_stream_gets_the_newest_state_and_counts_what_it_missed() -> None:
    feed = _feed()
    stream = feed.stream()
    first = asyncio.ensure_future(anext(stream))
    await asyncio.sleep(0)  # the stream's buffer exists before the pushes
    expected: PushQuote | None = None
    for sequence in range(1, 41):
        message = quote_pb2.PushQuote(
            symbol=SYMBOL, sequence=sequence, timestamp=1_764_000_000 + sequence,
            last_done=str(100 + sequence) if sequence % 3 else "",
            volume=sequence * 10 if sequence % 4 else 0, turnover="5.5",
        )  # fmt: skip
        feed.on_push(QUOTE, message.SerializeToString())
        expected = reference_merge(message, expected)
    got = [await first]
    while got[-1].event.sequence != 40:
        got.append(await asyncio.wait_for(anext(stream), 1))
    assert expected is not None and isinstance(got[-1].event, PushQuote)
    assert exact(got[-1].event) == exact(expected)
    assert len(got) < 40  # it lagged: the pushes were folded, not queued
    # Every push is accounted for: delivered, or folded into a delivery as missed.
    assert sum(1 + item.missed for item in got) == 40
    await stream.aclose()
    await feed.close()


def test_an_out_of_range_timestamp_is_malformed_on_arrival_not_when_read() -> None:
    async def run() -> None:
        feed = _feed()
        good = quote_pb2.PushQuote(symbol=SYMBOL, sequence=1, last_done="10", timestamp=5)
        feed.on_push(QUOTE, good.SerializeToString())
        bad = quote_pb2.PushQuote(symbol=SYMBOL, sequence=2, last_done="11", timestamp=2**62)
        feed.on_push(QUOTE, bad.SerializeToString())
        assert feed.malformed == 1
        got = feed.quote(SYMBOL)
        assert got is not None and got.last_done == 10 and got.sequence == 1
        await feed.close()

    asyncio.run(run())


def test_an_unparsable_decimal_reads_as_unchanged_since_the_last_build() -> None:
    """The one place the lazy merge differs from a push-by-push one: a field the wire sent as
    junk reads as unchanged since the quote was last built, not since the push before it."""

    async def run() -> None:
        feed = _feed()
        for sequence, text in ((1, "10"), (2, "11")):
            message = quote_pb2.PushQuote(symbol=SYMBOL, sequence=sequence, last_done=text)
            feed.on_push(QUOTE, message.SerializeToString())
        built = feed.quote(SYMBOL)
        assert built is not None and built.last_done == 11
        for sequence, text in ((3, "12"), (4, "junk")):
            message = quote_pb2.PushQuote(symbol=SYMBOL, sequence=sequence, last_done=text)
            feed.on_push(QUOTE, message.SerializeToString())
        after = feed.quote(SYMBOL)
        assert after is not None and after.last_done == 11 and after.sequence == 4
        await feed.close()

    asyncio.run(run())


def test_buffer_fold_settle_and_resolve() -> None:
    placeholder = object()
    buffer: PushBuffer[str, object] = PushBuffer(resolve=lambda key, v: f"built {key}")
    assert not buffer.fold("a", placeholder)  # nothing waits: the caller puts
    buffer.put("a", placeholder)
    assert buffer.fold("a", placeholder) and buffer.fold("a", placeholder)
    assert not buffer.fold("a", object())  # a different value must be merged by put
    assert (buffer.stats.received, buffer.stats.coalesced) == (3, 2)
    assert buffer.take_nowait() == ("a", "built a", 2)
    buffer.put("b", placeholder)
    buffer.settle("b")
    buffer.resolve = None
    assert buffer.take_nowait() == ("b", "built b", 0)  # settled while resolve was set
