"""Requests written straight to the transport (``send_now``) are frames websockets would send.

The simulator's socket server is websockets itself, so a request it answers was parsed as a
valid masked client frame. When ``send_now`` must not write (transport holding back, a large
message), the request goes through websockets' ``send()`` and still gets its answer.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from websockets.protocol import State

from lb_mcp.sdk.transport.ws_link import _WatchedConnection

from .fake_server import sim_quote_context

pytestmark = pytest.mark.anyio


async def test_requests_take_the_direct_write_and_the_fallback_alike(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    taken: list[bool] = []
    original = _WatchedConnection.send_now

    def spy(self: _WatchedConnection, data: bytes) -> bool:
        taken.append(original(self, data))
        return taken[-1]

    monkeypatch.setattr(_WatchedConnection, "send_now", spy)
    async with sim_quote_context() as (_, ctx):
        first = await ctx.quote(["700.HK"])
        assert taken and all(taken)  # every request so far was written directly
        link = ctx._socket()._link
        assert link is not None
        transport: Any = link.ws.transport
        monkeypatch.setattr(transport, "get_write_buffer_size", lambda: 10**9)
        taken.clear()
        second = await ctx.quote(["700.HK"])  # websockets' send() path
        assert taken == [False]
        monkeypatch.undo()
        many = await ctx.quote([f"{n}.HK" for n in range(1, 400)] + ["700.HK"])
    assert first[0].symbol == second[0].symbol == "700.HK"
    assert any(q.symbol == "700.HK" for q in many)


def test_a_frame_written_directly_is_a_masked_final_binary_frame() -> None:
    from websockets.frames import Frame, Opcode
    from websockets.streams import StreamReader

    class Transport:
        def __init__(self) -> None:
            self.out = b""

        def write(self, data: bytes) -> None:
            self.out += data

        def is_closing(self) -> bool:
            return False

        def get_write_buffer_size(self) -> int:
            return 0

    for size in (0, 5, 125, 126, 300, 65535):
        conn: Any = object.__new__(_WatchedConnection)
        conn.transport = Transport()
        conn.send_in_progress = None
        conn.protocol = SimpleNamespace(state=State.OPEN, extensions=[])
        payload = bytes(range(256)) * (size // 256) + bytes(range(size % 256))
        assert _WatchedConnection.send_now(conn, payload)
        reader = StreamReader()
        reader.feed_data(conn.transport.out)
        parser = Frame.parse(reader.read_exact, mask=True)
        try:
            next(parser)
        except StopIteration as done:
            frame = done.value
        assert frame.opcode is Opcode.BINARY and frame.fin and frame.data == payload
    conn.transport.out = b""
    assert not _WatchedConnection.send_now(conn, b"x" * 65536)  # websockets sends it
