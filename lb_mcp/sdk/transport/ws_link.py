"""One WebSocket connection of the socket protocol: pump bytes, correlate requests, stay alive.

A :class:`Link` owns a ``websockets`` client connection and a fresh client
:class:`~lb_mcp.sdk.wire.protocol.Protocol` (request ids restart at 1 on every connection). Its read
loop only feeds received messages to the protocol and dispatches the events: responses resolve
the futures their callers wait on, pushes go to a synchronous handler. It never awaits a
response, so a stalled request never delays pushes or other requests (the official SDK's core
awaits each round trip, reliability.md §2).

Hot path: while nothing waits in websockets' receive queue, a plain push or a response is
handled right where websockets parses it (:meth:`Link._direct`), saving the queue and a loop
turn; otherwise the reader task takes the queued messages back to back. Both let the loop turn
(so callers and push consumers run) whenever the push handler asks for it, after a response,
and at least every :data:`MAX_FRAMES_PER_TURN` messages.

Liveness (:meth:`Link.watch`): our own WebSocket pings with a deadline for the pong (waived when
other frames arrived meanwhile: under a flood the pong queues behind them), a watchdog
on received frames, and the official SDK's rule of dropping a link that has seen no server ping
for 120 s. Whatever kills the link, the reader ends, in-flight requests fail with
:class:`ConnectionLost` and :attr:`Link.closed` is set; the session decides what comes next.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import struct
from collections.abc import Callable, Sized
from dataclasses import dataclass
from typing import Any, Final

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed as WsConnectionClosed
from websockets.frames import Frame, Opcode
from websockets.protocol import State as WsState

try:  # websockets' C helper; its pure-Python twin otherwise
    from websockets.speedups import apply_mask
except ImportError:  # pragma: no cover - the wheels ship the extension
    from websockets.utils import apply_mask

from lb_mcp.sdk.errors import ConnectionClosed, RequestTimeout
from lb_mcp.sdk.wire.codec import MAX_BODY_LEN, PacketType
from lb_mcp.sdk.wire.commands import ControlCommand
from lb_mcp.sdk.wire.protocol import (
    Event,
    Protocol,
    ProtocolViolation,
    PushReceived,
    RequestCancelled,
    RequestTimedOut,
    ResponseReceived,
    Side,
    State,
)

log = logging.getLogger(__name__)

HANDSHAKE_QUERY: Final = "version=1&codec=1&platform=9"
CONNECT_TIMEOUT_S: Final = 5.0  # TCP + upgrade, as the official SDK
CLOSE_TIMEOUT_S: Final = 2.0
_MAX_MESSAGE: Final = MAX_BODY_LEN + 64  # one packet: header + u24 body + verify trailer

# A push handler returns True when the push is fully dealt with and the read loop may go on with
# the next buffered frame at once; anything else (None, False) makes the loop let every other
# task run first, e.g. because a consumer must take a pending push before the next one arrives.
PushHandler = Callable[[int, bytes], bool | None]
# Frames read back to back (from what websockets already buffered) before the loop turns anyway,
# so a flood of settled pushes cannot keep callers, callbacks and timers waiting for long.
MAX_FRAMES_PER_TURN: Final = 64
_CLOSE_CMD: Final = int(ControlCommand.CLOSE)
_SEND_NOW_MAX_BUFFER: Final = 64 * 1024  # above this, websockets' send() waits for the drain
_HEAD16: Final = struct.Struct("!BBH")


class ConnectionLost(ConnectionClosed):
    """The link dropped before this request was answered (or sent): its outcome is unknown."""


@dataclass(frozen=True, slots=True)
class Liveness:
    """How a dead or mute link is detected (seconds). Tests use short values."""

    ping_interval: float = 10.0  # our WebSocket ping period
    ping_timeout: float = 10.0  # ... and how long the server has to answer it
    data_timeout: float = 30.0  # no frame at all (data, pong, ping) for this long: dead
    server_ping_timeout: float = 120.0  # no server ping for this long: dead (as the SDK)


# Takes one complete binary message with its arrival time; True if it was dealt with.
DirectHandler = Callable[[bytes, float], bool]


class _WatchedConnection(ClientConnection):
    """A client connection that remembers when it last received any frame and a server ping.

    It can also hand a complete binary message to :attr:`direct` right where websockets parsed
    it, instead of queueing it for the reader task: one event-loop turn and the queue's
    hand-off less per message. Only while nothing is queued, so messages keep their order.

    Batch mode (:meth:`take_over`): once the handshake is done and websockets' frame parser
    sits at a frame boundary with nothing buffered, this connection splits the received bytes
    into frames itself. A complete, final, unmasked binary frame (every message the server
    sends) goes to :attr:`direct` straight from the bytes of one read, all frames of the read
    in one pass; only control frames (ping, pong, close) are handed to websockets, one
    complete frame at a time, so its parser stays at a frame boundary and its keepalive and
    closing logic work unchanged. Anything else (a text or fragmented frame, a 64-bit length)
    hands the rest of the stream back to websockets for good. When the link asks for a turn
    (:attr:`wants_turn`), the unparsed rest waits in :attr:`_pending` and parsing goes on
    from a ``call_soon``, after everything that was ready ran; reading from the socket pauses
    while more than :data:`_PENDING_HIGH` bytes wait, so memory stays bounded.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        now = self.loop.time()
        self.last_frame_at = now
        self.last_ping_at = now
        self.last_data_at = now  # binary frames only: pongs and pings are not data
        self.direct: DirectHandler | None = None
        # batch mode: what direct did not take
        self.slow: Callable[[bytes, float], None] | None = None
        self.wants_turn: Callable[[], bool] = _never
        self._unread: Sized | None = None  # see connection_made
        self._batch = False
        self._pending = b""
        self._continuing = False  # a call_soon(_parse) is scheduled
        self._reading_paused = False
        self._backlog_since: float | None = None  # see behind()
        self._last_read = 0
        self.batches = 0  # reads parsed in batch mode (tests and benchmarks)

    def send_now(self, data: bytes) -> bool:
        """Write one small binary message straight to the transport; False: use ``send()``.

        websockets' ``send()`` costs a generator context manager, a Frame and its serializer
        per message, a good share of a request's client-side time. A request is one final
        binary frame, masked as a client must (RFC 6455 §5.3, a fresh random key each), so it
        is written here when nothing can differ from what ``send()`` would do: the connection
        is open, no fragmented message is in progress, no extension is negotiated and the
        transport is not holding back (``send()`` would wait for it to drain).
        """
        transport = self.transport
        size = len(data)
        if (
            self.protocol.state is not WsState.OPEN
            or self.send_in_progress is not None
            or self.protocol.extensions
            or size > 0xFFFF
            or transport is None
            or transport.is_closing()
            or transport.get_write_buffer_size() > _SEND_NOW_MAX_BUFFER
        ):
            return False
        mask = os.urandom(4)
        head = bytes((0x82, 0x80 | size)) if size < 126 else _HEAD16.pack(0x82, 0xFE, size)
        transport.write(head + mask + apply_mask(data, mask))
        return True

    def connection_made(self, transport: Any) -> None:
        super().connection_made(transport)
        # websockets' queue of frames the reader has not taken yet (the reader takes one and
        # handles it without suspending). Without it (another websockets), no direct path.
        unread = getattr(getattr(self, "recv_messages", None), "frames", None)
        self._unread = unread if hasattr(unread, "__len__") else None

    # ------------------------------------------------------------------ batch mode

    def take_over(self) -> bool:
        """Parse frames ourselves from now on, if websockets is at a clean frame boundary."""
        protocol = self.protocol
        innermost = getattr(protocol, "parser", None)  # the generator chain's innermost wait
        while (inner := getattr(innermost, "gi_yieldfrom", None)) is not None:
            innermost = inner
        waiting = getattr(innermost, "gi_code", None)
        reader = getattr(getattr(protocol, "reader", None), "buffer", None)
        if (
            self.direct is None
            or self.slow is None
            or self._unread is None
            or len(self._unread)
            or protocol.state is not WsState.OPEN
            or getattr(waiting, "co_name", None) != "at_eof"  # not inside a frame
            or reader is None
            or len(reader)
        ):
            return False
        self._batch = True
        return True

    def behind(self) -> bool:
        """True while the reader has had unread data for longer than :data:`BEHIND_S`.

        Then the feed outpaces us, and the read loop stops giving consumers a turn per push
        that would coalesce: they get the newest state at the next turn instead (which comes
        at least every :data:`MAX_FRAMES_PER_TURN` messages).
        """
        since = self._backlog_since
        return since is not None and self.loop.time() - since > BEHIND_S

    def data_received(self, data: bytes) -> None:
        if not self._batch:
            super().data_received(data)
            return
        self._last_read = len(data)
        if self._backlog_since is None:
            self._backlog_since = self.loop.time()
        self._pending = self._pending + data if self._pending else data
        if self._continuing:
            if len(self._pending) > _PENDING_HIGH and not self._reading_paused:
                self._reading_paused = True
                self.transport.pause_reading()
            return
        self._parse()

    def _continue(self) -> None:
        self._continuing = False
        if self._batch:
            self._parse()

    def _parse(self) -> None:
        """Handle every complete frame in :attr:`_pending` until the link wants a turn."""
        buf, pos = self._pending, 0
        end_of_data = len(buf)
        direct, slow, wants_turn = self.direct, self.slow, self.wants_turn
        now = self.loop.time()
        self.batches += 1
        if direct is None or slow is None:
            return
        while end_of_data - pos >= 2:
            frame_at = pos
            head, size = buf[pos], buf[pos + 1]
            if size < 126:
                start = pos + 2
            elif size == 126 and end_of_data - pos >= 4:
                size = buf[pos + 2] << 8 | buf[pos + 3]
                start = pos + 4
            elif size == 126:
                break  # the extended length is still on its way
            else:  # a 64-bit length or a masked frame: not from this server, websockets decides
                self._hand_back(buf[pos:])
                return
            end = start + size
            if end > end_of_data:
                break
            if head == _FINAL_BINARY:
                if wants_turn():
                    break
                self.last_frame_at = now
                message = buf[start:end]
                pos = end
                try:
                    if not direct(message, now):
                        slow(message, now)
                except Exception:  # never let our bug break the transport's read callback
                    log.exception("batch handling of a received message failed")
            elif head in _CONTROL_HEADS:
                pos = end
                super().data_received(buf[frame_at:end])
                if head == _CLOSE_HEAD:
                    self._hand_back(buf[pos:])
                    return
            else:  # text, fragmented or reserved bits: back to websockets, order kept
                self._hand_back(buf[pos:])
                return
        self._pending = buf[pos:] if pos else buf
        turn = wants_turn()
        if not turn and self._last_read < _FULL_READ:
            self._backlog_since = None  # everything read so far is handled: caught up
        if pos < end_of_data and turn and not self._continuing:
            self._continuing = True
            self.loop.call_soon(self._continue)
        elif self._reading_paused and not self._continuing:
            self._reading_paused = False
            self.transport.resume_reading()
        if self._continuing and len(self._pending) > _PENDING_HIGH and not self._reading_paused:
            self._reading_paused = True
            self.transport.pause_reading()

    def _hand_back(self, rest: bytes) -> None:
        self._batch = False
        self._pending = b""
        if self._reading_paused:
            self._reading_paused = False
            self.transport.resume_reading()
        if rest:
            super().data_received(rest)

    # ------------------------------------------------------------------ websockets' path

    def process_event(self, event: Any) -> None:
        if isinstance(event, Frame):
            now = self.loop.time()
            self.last_frame_at = now
            opcode = event.opcode
            if opcode is Opcode.BINARY:
                self.last_data_at = now
                direct, unread = self.direct, self._unread
                if direct is not None and unread is not None and event.fin and not unread:
                    try:
                        if direct(bytes(event.data), now):
                            return
                    except Exception:  # never let our bug break websockets' data_received
                        log.exception("direct handling of a received message failed")
                        return
            elif opcode is Opcode.PING:
                self.last_ping_at = now
        super().process_event(event)


def _never() -> bool:
    return False


_FINAL_BINARY: Final = 0x82  # FIN + binary opcode, no reserved bits
_CLOSE_HEAD: Final = 0x88
_CONTROL_HEADS: Final = frozenset({_CLOSE_HEAD, 0x89, 0x8A})  # close, ping, pong (FIN set)
_PENDING_HIGH: Final = 256 * 1024  # unparsed bytes held before reading from the socket pauses
_FULL_READ: Final = 64 * 1024  # a read this large suggests more data waits in the socket
# How long the reader may lag behind the socket before pushes coalesce without a consumer turn.
BEHIND_S: Final = 0.1


class Link:
    """One authenticated-or-not WebSocket connection. Create with :meth:`open`."""

    def __init__(self, ws: _WatchedConnection, name: str, on_push: PushHandler) -> None:
        self.ws = ws
        self.name = name
        self.proto = Protocol(Side.CLIENT)
        self.open = False  # authenticated and published by the session
        self.error: str | None = None  # why the link ended (secret-free)
        self.closed = asyncio.Event()
        self._on_push = on_push
        self._pending: dict[int, asyncio.Future[ResponseReceived]] = {}
        self._reader: asyncio.Task[None] | None = None
        self._watcher: asyncio.Task[None] | None = None
        self._direct_run = 0  # messages handled directly since the last pause
        self._direct_paused = False  # until the loop turns: see _direct

    @classmethod
    async def open_link(
        cls, url: str, headers: dict[str, str], name: str, on_push: PushHandler
    ) -> Link:
        """Connect ``url`` (already carrying the handshake query) and start reading."""
        ws = await connect(
            url,
            open_timeout=CONNECT_TIMEOUT_S,
            compression=None,
            additional_headers=headers,
            # Keepalive is ours (see watch), so that a mute server is caught on our bound.
            ping_interval=None,
            ping_timeout=None,
            close_timeout=CLOSE_TIMEOUT_S,
            max_size=_MAX_MESSAGE,
            proxy=None,
            create_connection=_WatchedConnection,
        )
        assert isinstance(ws, _WatchedConnection)
        link = cls(ws, name, on_push)
        ws.direct = link._direct
        ws.slow = link._slow
        ws.wants_turn = link._wants_turn
        ws.take_over()
        link._reader = asyncio.get_running_loop().create_task(
            link._read(), name=f"lb-{name}-reader"
        )
        return link

    def start_watching(self, liveness: Liveness) -> None:
        self._watcher = asyncio.get_running_loop().create_task(
            self._watch(liveness), name=f"lb-{self.name}-liveness"
        )

    def kill(self, reason: str) -> None:
        """Drop the link at once (no closing handshake: the peer may be gone)."""
        if self.error is None:
            self.error = reason
        self.open = False
        transport = self.ws.transport
        if transport is not None:
            transport.abort()

    async def discard(self, *, graceful: bool = False) -> None:
        """Close (politely if ``graceful`` and still healthy) and wait for the link's tasks."""
        self.open = False
        current = asyncio.current_task()
        if self._watcher is not None and self._watcher is not current:
            self._watcher.cancel()
        if graceful and self.error is None:
            with contextlib.suppress(Exception):
                await self.ws.close()
        self.kill(self.error or "closed by the client")
        tasks = [t for t in (self._reader, self._watcher) if t is not None and t is not current]
        await asyncio.gather(*tasks, return_exceptions=True)

    # ------------------------------------------------------------------ requests

    async def call(self, cmd: int, body: bytes, timeout_s: float) -> ResponseReceived:
        """Send one request and wait (at most ``timeout_s``) for its response event."""
        loop = asyncio.get_running_loop()
        if self.proto.state is State.CLOSED:
            raise ConnectionLost(f"cmd {cmd}: the {self.name} connection is closed")
        now = loop.time()
        request_id = self.proto.send_request(cmd, body, now, timeout_s)
        future: asyncio.Future[ResponseReceived] = loop.create_future()
        self._pending[request_id] = future
        try:
            async with asyncio.timeout(timeout_s):
                ws = self.ws
                for data in self.proto.data_to_send():
                    if not ws.send_now(data):
                        await ws.send(data)
                return await future
        except WsConnectionClosed:
            # The reader is about to cancel every in-flight request; wait for that verdict.
            return await future
        except TimeoutError:
            self.proto.handle_timeout(now + timeout_s)
            self._dispatch(self.proto.events_received())
            raise RequestTimeout(
                f"cmd {cmd}: no answer on the {self.name} socket within {timeout_s:.3g} s"
            ) from None
        finally:
            self._pending.pop(request_id, None)
            if not future.done():
                future.cancel()

    # ------------------------------------------------------------------ pumping

    async def _read(self) -> None:
        loop = asyncio.get_running_loop()
        proto = self.proto
        run = 0  # frames handled since the loop last turned
        try:
            async for message in self.ws:
                if isinstance(message, str):
                    self.error = "protocol error: the server sent a text frame"
                    break
                now = loop.time()
                push = proto.receive_push(message, now)  # the common case, without an event
                if push is not None:
                    settled = self._push(push[0], push[1])
                else:
                    proto.receive_data(message, now)
                    self._dispatch(proto.events_received())
                    if proto.state is State.CLOSED:
                        break
                    settled = False  # e.g. a response: its caller should run now
                run += 1
                # websockets hands out buffered frames without suspending, so without a turn
                # the reader would starve the callback task and every waiting caller.
                if not settled or run >= MAX_FRAMES_PER_TURN:
                    if not settled:  # messages arriving meanwhile wait in the queue too
                        self._pause_direct()
                    run = 0
                    await asyncio.sleep(0)
        except WsConnectionClosed as exc:
            if self.error is None:
                code = exc.rcvd.code if exc.rcvd else "no close frame"
                self.error = f"connection closed ({code})"
        finally:
            self.open = False
            self.ws.direct = None  # everything from now on goes through the queue (and is dropped)
            self.proto.close()
            self._dispatch(self.proto.events_received())
            self.kill(self.error or "connection closed by the server")
            self.closed.set()

    def _direct(self, data: bytes, now: float) -> bool:
        """A push or a response handled as websockets parses it (nothing is queued before it).

        Anything else, a closed session, or a moment when the consumers or other tasks should
        run first (a push handler asked for a turn, or many messages in a row) leaves the
        message to the reader task, after the loop has turned.
        """
        proto = self.proto
        if self._direct_paused or proto.state is State.CLOSED:
            return False
        push = proto.receive_push(data, now)
        if push is not None:
            if not self._push(push[0], push[1]) and not self.ws.behind():
                self._pause_direct()
        elif data and data[0] & 0x0F == PacketType.RESPONSE:
            proto.receive_data(data, now)
            self._dispatch(proto.events_received())
            if proto.error is not None:  # malformed: drop the link, the reader cleans up
                self.kill(self.error or "protocol error")
        else:
            return False
        self._direct_run += 1
        if self._direct_run >= MAX_FRAMES_PER_TURN:
            self._pause_direct()
        return True

    def _slow(self, data: bytes, now: float) -> None:
        """Batch mode: a message the direct path did not take (neither a plain push nor a
        response, e.g. gzip or malformed), handled as the reader task would."""
        proto = self.proto
        if proto.state is State.CLOSED:
            return
        proto.receive_data(data, now)
        self._dispatch(proto.events_received())
        if proto.error is not None:  # malformed: drop the link, the reader cleans up
            self.kill(self.error or "protocol error")
        self._pause_direct()

    def _wants_turn(self) -> bool:
        return self._direct_paused

    def _pause_direct(self) -> None:
        self._direct_paused = True
        asyncio.get_running_loop().call_soon(self._resume_direct)

    def _resume_direct(self) -> None:
        self._direct_paused = False
        self._direct_run = 0

    def _push(self, cmd: int, body: bytes) -> bool:
        """Hand one push to the handler; True if the read loop may go on without a turn."""
        if cmd == _CLOSE_CMD:
            log.info("%s socket: the server announced it is closing", self.name)
            return True
        try:
            return self._on_push(cmd, body) is True
        except Exception:  # a bad push must never stop the read loop
            log.exception("%s socket: push cmd %d handler failed", self.name, cmd)
            return False

    def _dispatch(self, events: list[Event]) -> None:
        for event in events:
            if isinstance(event, ResponseReceived):
                self._resolve(event.request_id, event)
            elif isinstance(event, PushReceived):
                self._push(event.cmd, event.body)
            elif isinstance(event, RequestTimedOut):
                self._resolve(event.request_id, RequestTimeout(f"cmd {event.cmd}: timed out"))
            elif isinstance(event, RequestCancelled):
                lost = f"cmd {event.cmd}: the {self.name} connection dropped before an answer"
                self._resolve(event.request_id, ConnectionLost(lost))
            elif isinstance(event, ProtocolViolation):
                self.error = f"protocol error: {event.error}"

    def _resolve(self, request_id: int, outcome: ResponseReceived | Exception) -> None:
        future = self._pending.pop(request_id, None)
        if future is None or future.done():
            return
        if isinstance(outcome, Exception):
            future.set_exception(outcome)
        else:
            future.set_result(outcome)

    async def _watch(self, liveness: Liveness) -> None:
        """Ping the server and watch for silence; kill the link when it looks dead."""
        ws = self.ws
        loop = asyncio.get_running_loop()
        while self.open:
            await asyncio.sleep(liveness.ping_interval)
            now = loop.time()
            if now - ws.last_frame_at > liveness.data_timeout:
                self.kill(f"no data from the server for {now - ws.last_frame_at:.1f} s")
                return
            if now - ws.last_ping_at > liveness.server_ping_timeout:
                self.kill(f"no ping from the server for {now - ws.last_ping_at:.1f} s")
                return
            sent_at = loop.time()
            try:
                async with asyncio.timeout(liveness.ping_timeout):
                    pong = await ws.ping()
                    await pong
            except TimeoutError:
                # Under a flood the pong waits in the socket behind every push sent before
                # it: frames that arrived since the ping prove the peer alive (#15).
                if ws.last_frame_at > sent_at:
                    continue
                self.kill(f"ping timeout: no pong within {liveness.ping_timeout:g} s")
                return
            except WsConnectionClosed:
                return


__all__ = [
    "BEHIND_S",
    "CONNECT_TIMEOUT_S",
    "HANDSHAKE_QUERY",
    "MAX_FRAMES_PER_TURN",
    "ConnectionLost",
    "Link",
    "Liveness",
    "PushHandler",
]
