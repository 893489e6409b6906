"""The quote socket's hot path: direct handling in websockets, the reader fallback, fairness,
coalescing only for consumers that are really behind, and the PushQuote merge."""

from __future__ import annotations

import asyncio
import logging
import random
import time
from dataclasses import dataclass, field, fields
from decimal import Decimal, InvalidOperation
from typing import Any

import anyio
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from websockets.frames import Frame, Opcode

from lb_mcp.sdk.enums import SubType, TradeSession, TradeStatus
from lb_mcp.sdk.quote.context import QuoteContext, QuotePush
from lb_mcp.sdk.quote.models import PushQuote, SecurityQuote, utc_from_epoch
from lb_mcp.sdk.quote.wire import PushValue, coalesce, push_quote
from lb_mcp.sdk.transport.buffer import PushBuffer
from lb_mcp.sdk.transport.ws_link import MAX_FRAMES_PER_TURN, Link, _WatchedConnection
from lb_mcp.sdk.wire.codec import Push, decode_message, serialize
from lb_mcp.sdk.wire.commands import QuoteCommand, Status
from lb_mcp.sdk.wire.proto import quote_pb2
from lb_mcp.sdk.wire.protocol import RequestReceived, ResponseReceived

from .fake_server import (
    _ALREADY_ANSWERED,
    FakeConnection,
    FakeServer,
    Recorder,
    Reply,
    quote_context,
)

pytestmark = pytest.mark.anyio

PUSH_QUOTE, QUOTE = QuoteCommand.PushQuoteData, QuoteCommand.QuerySecurityQuote
SYMBOL = "700.HK"
Key = tuple[str, SubType]


# ---------------------------------------------------------------------------- instruments


@dataclass
class Trace:
    """What the client's link handled, in order, and which messages took the direct path."""

    handled: list[tuple[str, int]] = field(default_factory=list)  # ("push", seq) / ("resp", id)
    direct: int = 0  # messages handled right where websockets parsed them
    direct_calls: int = 0
    direct_data: list[bytes] = field(default_factory=list)
    changed: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def pushes(self) -> int:
        return sum(1 for kind, _ in self.handled if kind == "push")

    def note(self, item: tuple[str, int]) -> None:
        self.handled.append(item)
        self.changed.set()
        self.changed = asyncio.Event()

    async def wait_for_pushes(self, count: int) -> None:
        while self.pushes < count:
            await self.changed.wait()


@pytest.fixture
def trace(monkeypatch: pytest.MonkeyPatch) -> Trace:
    record = Trace()
    direct, push, resolve = Link._direct, Link._push, Link._resolve

    def traced_direct(self: Link, data: bytes, now: float) -> bool:
        record.direct_calls += 1
        record.direct_data.append(data)
        handled = direct(self, data, now)
        record.direct += handled
        return handled

    def traced_push(self: Link, cmd: int, body: bytes) -> bool:
        if cmd == PUSH_QUOTE:
            record.note(("push", decode_message(quote_pb2.PushQuote, body).sequence))
        return push(self, cmd, body)

    def traced_resolve(self: Link, request_id: int, outcome: Any) -> None:
        if isinstance(outcome, ResponseReceived):
            record.note(("resp", request_id))
        resolve(self, request_id, outcome)

    monkeypatch.setattr(Link, "_direct", traced_direct)
    monkeypatch.setattr(Link, "_push", traced_push)
    monkeypatch.setattr(Link, "_resolve", traced_resolve)
    return record


def without_direct_path(monkeypatch: pytest.MonkeyPatch) -> None:
    """As with a websockets whose receive queue we cannot see: no direct path at all."""
    made = _WatchedConnection.connection_made

    def connection_made(self: _WatchedConnection, transport: Any) -> None:
        made(self, transport)
        self._unread = None

    monkeypatch.setattr(_WatchedConnection, "connection_made", connection_made)


def without_batch_mode(monkeypatch: pytest.MonkeyPatch) -> None:
    """websockets parses every frame (its direct path and its queue), as before batch mode."""
    monkeypatch.setattr(_WatchedConnection, "take_over", lambda self: False)


def link_of(ctx: QuoteContext) -> Link:
    link = ctx._socket()._link
    assert link is not None
    return link


async def subscribed(server: FakeServer, ctx: QuoteContext) -> FakeConnection:
    await ctx.subscribe([SYMBOL], [SubType.Quote], is_first_push=False)
    return server.connections[-1]


def quote_answer(server: FakeServer, symbol: str) -> bytes:
    quote = quote_pb2.SecurityQuote(symbol=symbol, last_done=server.prices[symbol], timestamp=1)
    return bytes(quote_pb2.SecurityQuoteResponse(secu_quote=[quote]).SerializeToString())


class Parked:
    """A QuerySecurityQuote handler that leaves the answer to the test."""

    def __init__(self, expected: int) -> None:
        self.requests: list[RequestReceived] = []
        self.expected = expected
        self.all_in = asyncio.Event()

    async def __call__(self, conn: FakeConnection, request: RequestReceived) -> Reply:
        self.requests.append(request)
        if len(self.requests) == self.expected:
            self.all_in.set()
        return _ALREADY_ANSWERED


class TakeRecorder(PushBuffer[Key, PushValue]):
    """A callback buffer that remembers what the dispatcher took, with its missed count."""

    def __init__(self) -> None:
        super().__init__(merge=coalesce)
        self.taken: list[tuple[int, int]] = []  # (sequence, missed)

    def take_nowait(self) -> tuple[Key, PushValue, int] | None:
        taken = super().take_nowait()
        if taken is not None:
            self.taken.append((taken[1].sequence, taken[2]))
        return taken


# ---------------------------------------------------------------------------- 1 + 2: order


@pytest.mark.parametrize("path", ["batch", "direct", "reader"])
@pytest.mark.parametrize(
    ("width", "per_call"),
    [(1, 5), (200, 150)],  # one key (pushes held for the consumer) / settled pushes, long runs
    ids=["one-symbol", "many-symbols"],
)
async def test_pushes_and_responses_keep_their_order_across_the_direct_and_queued_paths(
    path: str, width: int, per_call: int, trace: Trace, monkeypatch: pytest.MonkeyPatch
) -> None:
    if path != "batch":
        without_batch_mode(monkeypatch)
    if path == "reader":
        without_direct_path(monkeypatch)
    calls, rng = 40, random.Random(7)
    symbols = [SYMBOL] if width == 1 else [f"P{n}.US" for n in range(width)]
    pushes = calls * per_call
    parked = Parked(calls)
    seen: dict[str, list[int]] = {}
    last_seen = asyncio.Event()

    async def slow(symbol: str, event: PushQuote) -> None:
        seen.setdefault(symbol, []).append(event.sequence)
        if event.sequence == pushes:
            last_seen.set()
        for _ in range(3):  # a consumer that takes a few loop turns per push
            await asyncio.sleep(0)

    async with FakeServer() as server, quote_context(server) as ctx:
        server.handlers[QUOTE] = parked
        server.prices.update({f"S{n}.US": f"{n}.5" for n in range(calls)})
        ctx.set_on_quote(slow)
        await ctx.subscribe(symbols, [SubType.Quote], is_first_push=False)
        conn = server.connections[-1]
        with anyio.fail_after(10):
            callers = [asyncio.create_task(ctx.quote([f"S{n}.US"])) for n in range(calls)]
            await parked.all_in.wait()
            trace.handled.clear()
            sent: list[tuple[str, int]] = []
            sequence = 0
            for request in parked.requests:  # groups of pushes, each followed by a response
                for _ in range(per_call):
                    sequence += 1
                    symbol = symbols[sequence % width]
                    conn.proto.send_push(PUSH_QUOTE, server.quote_push(symbol, sequence=sequence))
                    sent.append(("push", sequence))
                symbol = decode_message(quote_pb2.MultiSecurityRequest, request.body).symbol[0]
                body = quote_answer(server, symbol)
                conn.proto.send_response(request.request_id, QUOTE, Status.SUCCESS, body)
                sent.append(("resp", request.request_id))
                await conn.flush()
                for _ in range(rng.randrange(4)):  # sometimes the client catches up, sometimes not
                    await asyncio.sleep(0)
            answers = await asyncio.gather(*callers)
            await trace.wait_for_pushes(pushes)
            await last_seen.wait()
        assert trace.handled == sent  # one order, whichever path each message took
        for sequences in seen.values():  # strictly increasing at the callback
            assert sequences == sorted(set(sequences))
        assert [(q.symbol, q.last_done) for [q] in answers] == [
            (f"S{n}.US", Decimal(f"{n}.5")) for n in range(calls)
        ]
        if path == "batch":  # every message of every read went to the link in one pass
            assert link_of(ctx).ws.batches > 0
            assert trace.direct >= len(sent)
        elif path == "direct":
            assert 0 < trace.direct < len(sent)  # both paths really were taken
        else:
            assert trace.direct_calls == 0


async def test_a_message_parsed_while_another_waits_in_the_queue_is_queued_behind_it(
    trace: Trace,
) -> None:
    # Deterministic version of the race the live tests can only hit by chance: the reader
    # has yielded with a frame still queued when websockets parses the next one.
    async with FakeServer() as server, quote_context(server) as ctx:
        ctx.set_on_quote(lambda symbol, event: None)
        await subscribed(server, ctx)
        ws = link_of(ctx).ws
        first, second = (serialize(Push(PUSH_QUOTE, server.quote_push(SYMBOL))) for _ in "12")
        trace.handled.clear()
        trace.direct_calls = 0
        ws.recv_messages.frames.put(Frame(Opcode.BINARY, first))
        ws.process_event(Frame(Opcode.BINARY, second))
        with anyio.fail_after(5):
            await trace.wait_for_pushes(2)
        assert trace.handled == [("push", 1), ("push", 2)]
        assert trace.direct_calls == 0


async def test_without_the_direct_path_pulls_pushes_and_reconnects_still_work(
    trace: Trace, monkeypatch: pytest.MonkeyPatch
) -> None:
    without_direct_path(monkeypatch)
    got: Recorder[tuple[str, PushQuote]] = Recorder()
    async with FakeServer() as server, quote_context(server) as ctx:
        ctx.set_on_quote(got)
        await subscribed(server, ctx)
        with anyio.fail_after(5):
            last = 0
            for _ in range(3):
                last = await server.push_quote(SYMBOL)
            await trace.wait_for_pushes(3)
            await server.drop_all()
            [quote] = await ctx.quote(["AAPL.US"])
            await server.push_quote(SYMBOL)
            await trace.wait_for_pushes(4)
            await got.wait_for(lambda items: bool(items) and items[-1][1].sequence == last + 1)
        assert quote.last_done == Decimal("190.5")
        assert ctx.connection_state().reconnects == 1
        assert trace.direct_calls == 0


# ---------------------------------------------------------------------------- 3: fairness


async def test_a_push_flood_starves_neither_a_round_trip_nor_other_tasks(trace: Trace) -> None:
    stop = asyncio.Event()
    gaps: list[int] = []
    timer_fired_at: list[int] = []

    async def flood(conn: FakeConnection) -> None:
        # Paced to a bounded backlog: a server that outruns the client puts the response
        # behind everything unread on the wire, whatever the client does.
        sequence = 0
        while not stop.is_set():
            while sequence - trace.pushes > 1000:
                await trace.changed.wait()
            for _ in range(200):  # one push per symbol in turn: none folds into a fresh entry
                sequence += 1
                symbol = symbols[sequence % len(symbols)]
                conn.proto.send_push(PUSH_QUOTE, server.quote_push(symbol, sequence=sequence))
            await conn.flush()
            await asyncio.sleep(0)

    async def ticker() -> None:  # how many pushes the link handles between two of our turns
        last = trace.pushes
        while not stop.is_set():
            await asyncio.sleep(0)
            gaps.append(trace.pushes - last)
            last = trace.pushes

    symbols = [f"S{n}.US" for n in range(200)]
    async with FakeServer() as server, quote_context(server) as ctx:
        ctx.set_on_quote(lambda symbol, event: None)
        await ctx.subscribe(symbols, [SubType.Quote], is_first_push=False)
        conn = server.connections[-1]
        with anyio.fail_after(10):
            flooding = asyncio.create_task(flood(conn))
            ticking = asyncio.create_task(ticker())
            await trace.wait_for_pushes(2000)
            loop = asyncio.get_running_loop()
            loop.call_later(0.001, lambda: timer_fired_at.append(trace.pushes))
            before, started = trace.pushes, time.monotonic()
            [quote] = await ctx.quote(["AAPL.US"])
            elapsed, during = time.monotonic() - started, trace.pushes - before
            await trace.wait_for_pushes(trace.pushes + 2000)
            stop.set()
            await asyncio.gather(flooding, ticking)
        assert quote.last_done == Decimal("190.5")
        assert elapsed < 1.0
        assert during > 0  # the flood went on meanwhile
        assert timer_fired_at and timer_fired_at[0] < trace.pushes
        # One loop turn handles at most one batch from where websockets parses frames and one
        # from the reader task, each capped at MAX_FRAMES_PER_TURN.
        assert max(gaps) <= 2 * MAX_FRAMES_PER_TURN
        assert trace.direct > 0


# ---------------------------------------------------------------------------- 4: coalescing


async def _stream_until(ctx: QuoteContext, last: int, into: list[QuotePush]) -> None:
    async for item in ctx.pushes():
        into.append(item)
        if item.event.sequence == last:
            return


async def _start_stream(ctx: QuoteContext, last: int, into: list[QuotePush]) -> asyncio.Task[None]:
    task = asyncio.create_task(_stream_until(ctx, last, into))
    await asyncio.sleep(0)  # the task starts and registers its buffer on the first anext()
    assert ctx._feed._streams
    return task


async def _burst(conn: FakeConnection, server: FakeServer, count: int) -> None:
    for sequence in range(1, count + 1):
        conn.proto.send_push(PUSH_QUOTE, server.quote_push(SYMBOL, sequence=sequence))
    await conn.flush()


async def test_a_fast_consumer_gets_every_push_of_a_burst_without_coalescing(trace: Trace) -> None:
    count, seen, streamed = 500, list[int](), list[QuotePush]()
    buffer = TakeRecorder()
    async with FakeServer() as server, quote_context(server, push_buffer=buffer) as ctx:
        ctx.set_on_quote(lambda symbol, event: seen.append(event.sequence))
        conn = await subscribed(server, ctx)
        with anyio.fail_after(5):
            stream = await _start_stream(ctx, count, streamed)
            await _burst(conn, server, count)
            await stream
            while len(seen) < count:
                await trace.changed.wait()
        assert seen == list(range(1, count + 1))
        assert buffer.taken == [(n, 0) for n in range(1, count + 1)]
        assert buffer.stats.coalesced == 0
        assert [(p.event.sequence, p.missed) for p in streamed] == [
            (n, 0) for n in range(1, count + 1)
        ]


async def test_a_slow_callback_is_coalesced_while_a_fast_stream_gets_every_push(
    trace: Trace,
) -> None:
    count, streamed = 300, list[QuotePush]()
    release, seen, done = asyncio.Event(), list[int](), asyncio.Event()
    buffer = TakeRecorder()

    async def slow(symbol: str, event: PushQuote) -> None:
        await release.wait()
        seen.append(event.sequence)
        if event.sequence == count:
            done.set()

    async with FakeServer() as server, quote_context(server, push_buffer=buffer) as ctx:
        ctx.set_on_quote(slow)
        conn = await subscribed(server, ctx)
        with anyio.fail_after(5):
            stream = await _start_stream(ctx, count, streamed)
            await _burst(conn, server, count)
            await stream
            release.set()
            await done.wait()
        assert [(p.event.sequence, p.missed) for p in streamed] == [
            (n, 0) for n in range(1, count + 1)
        ]
        # The first push was taken at once; everything after the next one folded into it.
        assert seen == [1, count]
        assert buffer.taken == [(1, 0), (count, count - 2)]
        assert buffer.stats.coalesced == count - 2


# ---------------------------------------------------------------------------- 5: bad frames


MALFORMED = {
    "truncated-response": bytes([2, QUOTE, 0, 0, 0, 99, 0, 0, 0, 10]) + b"short",
    "push-with-a-wrong-length": bytes([3, PUSH_QUOTE, 0, 0, 10]) + b"x",
    "unknown-packet-type": bytes([0x0F, 1, 0, 0, 0]),
    "empty": b"",
}


@pytest.mark.parametrize("frame", MALFORMED.values(), ids=MALFORMED.keys())
async def test_a_malformed_frame_on_the_direct_path_drops_the_link_and_it_reconnects(
    frame: bytes, trace: Trace, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    got: list[int] = []
    async with FakeServer() as server, quote_context(server) as ctx:
        ctx.set_on_quote(lambda symbol, event: got.append(event.sequence))
        conn = await subscribed(server, ctx)
        link = link_of(ctx)
        with anyio.fail_after(5):
            await conn.ws.send(frame)
            await link.closed.wait()
            await server.wait_for(lambda: conn.closed.is_set() and len(server.connections) == 2)
            [quote] = await ctx.quote(["AAPL.US"])
            sequence = await server.push_quote(SYMBOL)
            while sequence not in got:
                await trace.changed.wait()
        assert frame in trace.direct_data  # it did reach the direct path first
        assert link.error is not None and "protocol" in link.error.lower()
        assert quote.last_done == Decimal("190.5")
        assert ctx.connection_state().reconnects == 1
        assert [r for r in caplog.records if r.levelno >= logging.ERROR] == []


# ---------------------------------------------------------------------------- 6: the merge


def lenient(text: str) -> Decimal:
    try:
        value = Decimal(text)
    except InvalidOperation:
        return Decimal(0)
    return value if value.is_finite() else Decimal(0)


def reference_merge(message: Any, previous: PushQuote | None) -> PushQuote:
    """PushQuote merge as the official SDK's store describes it, one field at a time."""

    def kept(new: Any, old: Any) -> Any:
        return old if previous is not None and not new else new

    try:
        status = TradeStatus(message.trade_status)
    except ValueError:
        status = TradeStatus.Normal
    try:
        session = TradeSession(message.trade_session)
    except ValueError:
        session = TradeSession.Intraday
    return PushQuote(
        last_done=kept(lenient(message.last_done), previous and previous.last_done),
        open=kept(lenient(message.open), previous and previous.open),
        high=kept(lenient(message.high), previous and previous.high),
        low=kept(lenient(message.low), previous and previous.low),
        timestamp=utc_from_epoch(message.timestamp),
        volume=kept(message.volume, previous and previous.volume),
        turnover=kept(lenient(message.turnover), previous and previous.turnover),
        trade_status=status,
        trade_session=session,
        current_volume=message.current_volume,
        current_turnover=lenient(message.current_turnover),
        sequence=message.sequence,
    )


def exact(quote: PushQuote) -> list[tuple[str, str]]:
    """Every field as text, so Decimal("1.0") and Decimal("1") differ."""
    return [(f.name, repr(getattr(quote, f.name))) for f in fields(quote)]


_WIRE_DECIMAL = st.one_of(
    st.sampled_from(["", "0", "0.00", "-0", "NaN", "-nan", "sNaN", "Infinity", "-Inf", "1e999"]),
    st.decimals(allow_nan=False, allow_infinity=False, places=4).map(str),
    st.integers(-(10**12), 10**12).map(str),
    st.text(alphabet=st.characters(blacklist_categories=["Cs"]), max_size=8),
)
_PUSH = st.builds(
    quote_pb2.PushQuote,
    symbol=st.just(SYMBOL),
    sequence=st.integers(0, 2**40),
    last_done=_WIRE_DECIMAL,
    open=_WIRE_DECIMAL,
    high=_WIRE_DECIMAL,
    low=_WIRE_DECIMAL,
    timestamp=st.integers(0, 4_000_000_000),
    volume=st.one_of(st.just(0), st.integers(-(2**40), 2**40)),
    turnover=_WIRE_DECIMAL,
    trade_status=st.integers(0, 140),
    trade_session=st.integers(0, 5),
    current_volume=st.integers(0, 2**40),
    current_turnover=_WIRE_DECIMAL,
)


@settings(max_examples=300, deadline=None, derandomize=True, database=None)
@given(st.lists(_PUSH, min_size=1, max_size=6))
def test_push_quote_merges_like_a_field_by_field_reference(messages: list[Any]) -> None:
    actual: PushQuote | None = None
    expected: PushQuote | None = None
    for message in messages:
        actual = push_quote(message, actual)
        expected = reference_merge(message, expected)
        assert exact(actual) == exact(expected)
        assert actual == expected and hash(actual) == hash(expected)


def test_quote_wire_re_exports_the_pull_and_push_modules_unchanged() -> None:
    from lb_mcp.sdk.quote import (
        pull as quote_wire_pull,
    )
    from lb_mcp.sdk.quote import (
        push as quote_wire_push,
    )
    from lb_mcp.sdk.quote import (
        wire as quote_wire,
    )

    assert quote_wire.push_quote is quote_wire_push.push_quote
    assert quote_wire.security_quote is quote_wire_pull.security_quote
    assert set(quote_wire.__all__) == set(quote_wire_pull.__all__) | set(quote_wire_push.__all__)
    snapshot = SecurityQuote(
        symbol=SYMBOL,
        last_done=Decimal("1"),
        prev_close=Decimal("1"),
        open=Decimal(0),
        high=Decimal("2"),
        low=Decimal("1"),
        timestamp=utc_from_epoch(5),
        volume=0,
        turnover=Decimal(0),
        trade_status=TradeStatus.Normal,
    )
    assert quote_wire.push_quote_from_snapshot(snapshot, None).open == Decimal(0)
