"""The quote socket under a flood: batch mode, coalescing while the reader is behind the
socket, bounded unparsed bytes, and liveness that counts arriving frames as proof of life."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import anyio
import pytest
from websockets.frames import Frame, Opcode

from lb_mcp.sdk.enums import SubType
from lb_mcp.sdk.quote.models import PushQuote
from lb_mcp.sdk.transport import ws_link
from lb_mcp.sdk.transport.ws_link import MAX_FRAMES_PER_TURN, Link, Liveness
from lb_mcp.sdk.wire.commands import QuoteCommand

from .fake_server import FakeConnection, FakeServer, Recorder, fast_options, quote_context

pytestmark = pytest.mark.anyio

PUSH_QUOTE = QuoteCommand.PushQuoteData
SYMBOLS = [f"F{n}.US" for n in range(6)]


def link_of(ctx: Any) -> Link:
    link = ctx._socket()._link
    assert link is not None
    return link


def withhold_pongs(conn: FakeConnection) -> None:
    """The server still reads our pings but never answers them."""
    protocol = conn.ws.protocol
    send_frame: Callable[[Frame], None] = protocol.send_frame

    def send(frame: Frame) -> None:
        if frame.opcode is not Opcode.PONG:
            send_frame(frame)

    protocol.send_frame = send  # type: ignore[method-assign]


async def test_a_link_whose_pongs_queue_behind_arriving_pushes_is_not_dropped() -> None:
    liveness = Liveness(ping_interval=0.05, ping_timeout=0.15, data_timeout=5)
    seen: list[int] = []
    async with (
        FakeServer() as server,
        quote_context(server, fast_options(liveness=liveness)) as ctx,
    ):
        ctx.set_on_quote(lambda symbol, event: seen.append(event.sequence))
        await ctx.subscribe(SYMBOLS[:1], [SubType.Quote], is_first_push=False)
        conn = server.connections[-1]
        withhold_pongs(conn)
        link = link_of(ctx)
        with anyio.fail_after(10):
            for _ in range(100):  # 1 s of pushes, ~6 ping timeouts, none of them answered
                await server.push_quote(SYMBOLS[0])
                await asyncio.sleep(0.01)
            assert link.error is None and len(server.connections) == 1
            assert ctx.connection_state().reconnects == 0
            assert seen[-1] == 100
            # The feed goes mute as well: now the missing pong is a dead peer.
            await server.wait_for(lambda: len(server.connections) == 2)
        assert link.error == "ping timeout: no pong within 0.15 s"


async def _backlog(conn: FakeConnection, server: FakeServer, rounds: int) -> int:
    """``rounds`` pushes per symbol, interleaved, written to the socket at once."""
    sequence = 0
    for _ in range(rounds):
        sequence += 1
        for symbol in SYMBOLS:
            conn.proto.send_push(PUSH_QUOTE, server.quote_push(symbol, sequence=sequence))
    await conn.flush()
    return sequence


async def test_behind_the_socket_a_fast_consumer_gets_the_newest_quotes_at_every_turn(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(ws_link, "BEHIND_S", 0.0)  # every backlog counts as behind
    handled: list[int] = []  # per push the link handled: how many pushes so far
    lag: list[int] = []  # per callback: pushes handled but not yet seen by the consumer
    seen: dict[str, int] = {}
    done = asyncio.Event()
    rounds = 2000
    push = Link._push

    def counted(self: Link, cmd: int, body: bytes) -> bool:
        handled.append(1)
        return push(self, cmd, body)

    monkeypatch.setattr(Link, "_push", counted)

    def on_quote(symbol: str, event: PushQuote) -> None:
        seen[symbol] = event.sequence
        lag.append(len(handled) - sum(seen.values()))
        if all(seen.get(s) == rounds for s in SYMBOLS):
            done.set()

    async with FakeServer() as server, quote_context(server) as ctx:
        ctx.set_on_quote(on_quote)
        await ctx.subscribe(SYMBOLS, [SubType.Quote], is_first_push=False)
        conn = server.connections[-1]
        handled.clear()
        with anyio.fail_after(10):
            await _backlog(conn, server, rounds)
            await done.wait()
        link = link_of(ctx)
        stats = ctx._feed.buffer.stats
    pushes = rounds * len(SYMBOLS)
    assert len(handled) == pushes
    assert link.ws.batches > 0
    # The consumer was behind by at most one turn's worth of frames (plus what its own
    # pass over the six symbols takes): the newest state, not a queue of old pushes.
    assert max(lag) <= MAX_FRAMES_PER_TURN + len(SYMBOLS)
    assert stats.coalesced > 0
    assert len(lag) < pushes


async def test_without_a_backlog_a_fast_consumer_still_gets_every_push() -> None:
    got: Recorder[tuple[str, PushQuote]] = Recorder()
    rounds = 200
    async with FakeServer() as server, quote_context(server) as ctx:
        ctx.set_on_quote(got)
        await ctx.subscribe(SYMBOLS, [SubType.Quote], is_first_push=False)
        conn = server.connections[-1]
        with anyio.fail_after(10):
            await _backlog(conn, server, rounds)
            await got.wait_for(lambda items: len(items) >= rounds * len(SYMBOLS))
        assert link_of(ctx).ws.batches > 0
    for symbol in SYMBOLS:
        assert [q.sequence for s, q in got.items if s == symbol] == list(range(1, rounds + 1))


async def test_control_frames_inside_a_batch_are_handled_by_websockets_in_order() -> None:
    got: Recorder[tuple[str, PushQuote]] = Recorder()
    async with FakeServer() as server, quote_context(server) as ctx:
        ctx.set_on_quote(got)
        await ctx.subscribe(SYMBOLS[:1], [SubType.Quote], is_first_push=False)
        conn = server.connections[-1]
        link = link_of(ctx)
        pings_before = link.ws.last_ping_at
        with anyio.fail_after(5):
            conn.proto.send_push(PUSH_QUOTE, server.quote_push(SYMBOLS[0], sequence=1))
            await conn.flush()
            await conn.ws.ping(b"mid")  # a server ping between two pushes of one read
            conn.proto.send_push(PUSH_QUOTE, server.quote_push(SYMBOLS[0], sequence=2))
            await conn.flush()
            pong = await link.ws.ping()  # our ping is answered: the pong frame was parsed
            await pong
            await got.wait_for(lambda items: len(items) >= 2)
        assert link.ws.last_ping_at > pings_before
        assert link.ws._batch  # still in batch mode after the control frames
        assert [q.sequence for _, q in got.items] == [1, 2]


async def test_unparsed_bytes_stay_bounded_while_the_consumer_holds_the_reader(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    peak = [0]
    data_received = ws_link._WatchedConnection.data_received

    def watched(self: ws_link._WatchedConnection, data: bytes) -> None:
        data_received(self, data)
        peak[0] = max(peak[0], len(self._pending))

    monkeypatch.setattr(ws_link._WatchedConnection, "data_received", watched)
    got: Recorder[tuple[str, PushQuote]] = Recorder()

    async def slow(symbol: str, event: PushQuote) -> None:
        got(symbol, event)
        await asyncio.sleep(0.0005)  # a consumer that takes its time

    async with FakeServer() as server, quote_context(server) as ctx:
        ctx.set_on_quote(slow)
        await ctx.subscribe(SYMBOLS, [SubType.Quote], is_first_push=False)
        conn = server.connections[-1]
        with anyio.fail_after(20):
            last = await _backlog(conn, server, 20000)  # ~10 MiB of pushes
            await got.wait_for(
                lambda items: sum(1 for _, q in items if q.sequence == last) == len(SYMBOLS)
            )
    # One read is at most 256 KiB; reading pauses above _PENDING_HIGH.
    assert peak[0] <= ws_link._PENDING_HIGH + 256 * 1024
