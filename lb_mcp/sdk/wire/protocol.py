"""Sans-I/O session of the binary socket protocol, for either end of the link.

A :class:`Protocol` takes bytes and the time, and returns events and bytes; it never touches a
socket, a clock or an event loop (like python-websockets' ``protocol.py`` and h11). The asyncio
driver pumps it::

    proto.receive_data(message, now=clock())      # one WebSocket binary message
    for event in proto.events_received(): ...     # ResponseReceived, PushReceived, ...
    for out in proto.data_to_send(): await ws.send(out)
    deadline = proto.next_deadline()              # call handle_timeout(now) when it passes

The same class runs the client (our SDK) and the server (the simulator), so one state machine is
exercised from both sides. Its states and their transitions live in ``_TRANSITIONS``::

    CONNECTING --AUTH/RECONNECT in flight--> AUTHENTICATING --status 0--> OPEN
         ^                                         | failed or timed out
         +-----------------------------------------+          any state --close()--> CLOSED

A peer that breaks the protocol (unparsable packet, a request sent to a client, a response or
push sent to a server) produces a :class:`ProtocolViolation` event and the session is CLOSED:
the driver must drop the link. Requests still in flight then end with :class:`RequestCancelled`.

Push dedup and gap detection by ``sequence`` lives in ``sequencer.py``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Final

from lb_mcp.sdk.errors import ConnectionClosed, ProtocolError
from lb_mcp.sdk.wire.codec import (
    MAX_INFLATED,
    PacketType,
    Push,
    Request,
    Response,
    encode_error,
    encode_request,
    parse,
    serialize,
)
from lb_mcp.sdk.wire.commands import ControlCommand, Status

AUTH_TIMEOUT_S: Final = 5.0  # the official SDK's limit for AUTH / RECONNECT (protocol.md §4.5)
REQUEST_TIMEOUT_S: Final = 30.0  # ... and for every other request
MAX_TIMEOUT_MS: Final = 60_000  # the largest value the timeout field may carry (§3.2)
DEFAULT_GZIP_THRESHOLD: Final = 1024  # the Go reference server's MinGzipSize (§3.3)
# Business code of the Error body when a server refuses a request sent before AUTH.
# 401004 is the gateway's "no token supplied".
NOT_AUTHENTICATED_CODE: Final = 401004

_AUTH_COMMANDS: Final = frozenset({ControlCommand.AUTH, ControlCommand.RECONNECT})
_U32: Final = 0xFFFFFFFF
_PLAIN_PUSH: Final = int(PacketType.PUSH)  # header byte of a push without gzip or verify bits
_PUSH_HEAD_LEN: Final = 5  # header, cmd, u24 body_len


class Side(Enum):
    CLIENT = "client"
    SERVER = "server"


class State(Enum):
    CONNECTING = "connecting"  # link up, nobody authenticated yet
    AUTHENTICATING = "authenticating"  # an AUTH or RECONNECT request is in flight
    OPEN = "open"
    CLOSED = "closed"


class _Trigger(Enum):
    AUTH_STARTED = "auth started"
    AUTH_SUCCEEDED = "auth succeeded"
    AUTH_FAILED = "auth failed"
    CLOSE = "close"


_TRANSITIONS: Final[dict[tuple[State, _Trigger], State]] = {
    (State.CONNECTING, _Trigger.AUTH_STARTED): State.AUTHENTICATING,
    (State.AUTHENTICATING, _Trigger.AUTH_SUCCEEDED): State.OPEN,
    # A refused or timed-out AUTH leaves the link usable for another attempt (e.g. AUTH after
    # a refused RECONNECT); whether to try again or hang up is the driver's call.
    (State.AUTHENTICATING, _Trigger.AUTH_FAILED): State.CONNECTING,
    (State.CONNECTING, _Trigger.CLOSE): State.CLOSED,
    (State.AUTHENTICATING, _Trigger.CLOSE): State.CLOSED,
    (State.OPEN, _Trigger.CLOSE): State.CLOSED,
    (State.CLOSED, _Trigger.CLOSE): State.CLOSED,
}


class LocalProtocolError(ProtocolError):
    """Our own code used the session wrongly (e.g. a request before AUTH). A bug, not the peer."""


# ---------------------------------------------------------------------------- events
# Bodies are left out of reprs: AUTH bodies carry the OTP, RECONNECT bodies the session id.


@dataclass(frozen=True, slots=True)
class RequestReceived:
    """Server side: the client sent a request; answer it with ``send_response``."""

    request_id: int
    cmd: int
    timeout_ms: int
    body: bytes = field(repr=False)


@dataclass(frozen=True, slots=True)
class ResponseReceived:
    """Client side: the answer to our request ``request_id``."""

    request_id: int
    cmd: int
    status: int
    body: bytes = field(repr=False)

    @property
    def ok(self) -> bool:
        return self.status == Status.SUCCESS


@dataclass(frozen=True, slots=True)
class PushReceived:
    """Client side: a push (quote 101-104, trade 18, or a CLOSE notice, cmd 0)."""

    cmd: int
    body: bytes = field(repr=False)


@dataclass(frozen=True, slots=True)
class RequestTimedOut:
    """Client side: no answer before the deadline. A late answer will be ignored."""

    request_id: int
    cmd: int


@dataclass(frozen=True, slots=True)
class RequestCancelled:
    """Client side: the session closed while the request was in flight (outcome unknown)."""

    request_id: int
    cmd: int


@dataclass(frozen=True, slots=True)
class ProtocolViolation:
    """The peer broke the protocol; the session is CLOSED and the link must be dropped."""

    error: ProtocolError


Event = (
    RequestReceived
    | ResponseReceived
    | PushReceived
    | RequestTimedOut
    | RequestCancelled
    | ProtocolViolation
)


@dataclass(slots=True)
class _InFlight:
    cmd: int
    deadline: float


class Protocol:
    """One end of one socket connection. Not thread-safe; drive it from one task.

    ``gzip_threshold`` applies to what a server sends (responses and pushes); a client never
    compresses, like the official SDK. ``max_body`` caps every received body after inflation.
    ``first_request_id`` exists for tests of the u32 wrap.
    """

    def __init__(
        self,
        side: Side,
        *,
        gzip_threshold: int | None = DEFAULT_GZIP_THRESHOLD,
        max_body: int = MAX_INFLATED,
        first_request_id: int = 1,
    ) -> None:
        self.side = side
        self._state = State.CONNECTING
        self._gzip_threshold = gzip_threshold if side is Side.SERVER else None
        self._max_body = max_body
        self._next_id = first_request_id
        self._auth_id: int | None = None
        self._in_flight: dict[int, _InFlight] = {}  # client: ours; server: unanswered
        self._events: list[Event] = []
        self._outgoing: list[bytes] = []
        self.error: ProtocolError | None = None  # set by a ProtocolViolation
        self.last_received: float | None = None  # time of the last message from the peer

    # ------------------------------------------------------------------ state

    @property
    def state(self) -> State:
        return self._state

    @property
    def in_flight(self) -> int:
        """Client: requests awaiting an answer. Server: requests not answered yet."""
        return len(self._in_flight)

    def _fire(self, trigger: _Trigger) -> None:
        try:
            self._state = _TRANSITIONS[(self._state, trigger)]
        except KeyError:
            raise LocalProtocolError(
                f"{trigger.value!r} is not allowed while {self._state.value}"
            ) from None
        if trigger is not _Trigger.AUTH_STARTED:
            self._auth_id = None

    # ------------------------------------------------------------------ driver input

    def receive_data(self, data: bytes, now: float) -> None:
        """Feed one WebSocket binary message received at ``now`` (seconds, any clock)."""
        if self._state is State.CLOSED:
            return
        self.last_received = now
        try:
            packet = parse(data, max_body=self._max_body)
        except ProtocolError as exc:
            self._violation(exc)
            return
        if self.side is Side.CLIENT:
            if isinstance(packet, Response):
                self._client_response(packet)
            elif isinstance(packet, Push):
                self._events.append(PushReceived(packet.cmd, packet.body))
            else:
                self._violation(ProtocolError(f"the server sent a request (cmd {packet.cmd})"))
        elif isinstance(packet, Request):
            self._server_request(packet)
        else:
            self._violation(ProtocolError(f"the client sent a {type(packet).__name__.lower()}"))

    def receive_push(self, data: bytes, now: float) -> tuple[int, bytes] | None:
        """Client fast path for the common message: a plain push (no gzip, no verify trailer).

        Returns ``(cmd, body)`` at once, without an event, if ``data`` is exactly such a push
        and the session is not CLOSED; otherwise ``None`` and nothing happened, so the driver
        feeds ``data`` to :meth:`receive_data` (which also reports anything malformed).
        """
        size = len(data)
        if (
            size < _PUSH_HEAD_LEN
            or data[0] != _PLAIN_PUSH
            or self.side is not Side.CLIENT
            or self._state is State.CLOSED
        ):
            return None
        body_len = (data[2] << 16) | (data[3] << 8) | data[4]
        if size != _PUSH_HEAD_LEN + body_len or body_len > self._max_body:
            return None
        self.last_received = now
        return data[1], data[_PUSH_HEAD_LEN:]

    def handle_timeout(self, now: float) -> None:
        """Expire every request whose deadline is at or before ``now``."""
        if self.side is not Side.CLIENT:
            return
        expired = sorted(
            (entry.deadline, request_id)
            for request_id, entry in self._in_flight.items()
            if entry.deadline <= now
        )
        for _, request_id in expired:
            entry = self._in_flight.pop(request_id)
            if request_id == self._auth_id:
                self._fire(_Trigger.AUTH_FAILED)
            self._events.append(RequestTimedOut(request_id, entry.cmd))

    def close(self) -> None:
        """The link is gone or being dropped: CLOSED, and in-flight requests are cancelled.

        Messages queued before (say, a CLOSE notice) stay available from ``data_to_send``.
        """
        if self._state is State.CLOSED:
            return
        self._fire(_Trigger.CLOSE)
        if self.side is Side.CLIENT:
            for request_id, entry in self._in_flight.items():
                self._events.append(RequestCancelled(request_id, entry.cmd))
        self._in_flight.clear()

    # ------------------------------------------------------------------ driver output

    def events_received(self) -> list[Event]:
        """Events since the last call, oldest first."""
        events, self._events = self._events, []
        return events

    def data_to_send(self) -> list[bytes]:
        """Messages to send since the last call; each is one WebSocket binary message."""
        out, self._outgoing = self._outgoing, []
        return out

    def next_deadline(self) -> float | None:
        """When ``handle_timeout`` must next be called, or None if nothing can time out."""
        if not self._in_flight or self.side is not Side.CLIENT:
            return None
        return min(entry.deadline for entry in self._in_flight.values())

    # ------------------------------------------------------------------ client side

    def send_request(
        self, cmd: int, body: bytes, now: float, timeout_s: float | None = None
    ) -> int:
        """Queue a request and return its id (1, 2, ... per connection, wrapping after u32).

        AUTH (2) and RECONNECT (3) are allowed only in CONNECTING, anything else only in OPEN.
        ``timeout_s`` defaults to 5 s for AUTH/RECONNECT and 30 s otherwise, as the official SDK.
        """
        self._require_side(Side.CLIENT, "send_request")
        self._require_not_closed()
        is_auth = cmd in _AUTH_COMMANDS
        if is_auth:
            self._fire(_Trigger.AUTH_STARTED)
        elif self._state is not State.OPEN:
            raise LocalProtocolError(f"cmd {cmd} sent while {self._state.value}; AUTH first")
        if timeout_s is None:
            timeout_s = AUTH_TIMEOUT_S if is_auth else REQUEST_TIMEOUT_S
        request_id = self._allocate_id()
        timeout_ms = max(0, min(round(timeout_s * 1000), MAX_TIMEOUT_MS))
        self._outgoing.append(encode_request(cmd, request_id, timeout_ms, body))
        self._in_flight[request_id] = _InFlight(cmd, now + timeout_s)
        if is_auth:
            self._auth_id = request_id
        return request_id

    def _allocate_id(self) -> int:
        request_id = self._next_id
        while request_id in self._in_flight:  # only after a wrap with a very old request left
            request_id = request_id + 1 if request_id < _U32 else 1
        self._next_id = request_id + 1 if request_id < _U32 else 1
        return request_id

    def _client_response(self, response: Response) -> None:
        entry = self._in_flight.pop(response.request_id, None)
        if entry is None:
            return  # unknown or already timed out: ignored, as the official SDK does
        if response.request_id == self._auth_id:
            self._fire(_Trigger.AUTH_SUCCEEDED if response.ok else _Trigger.AUTH_FAILED)
        self._events.append(
            ResponseReceived(response.request_id, response.cmd, response.status, response.body)
        )

    # ------------------------------------------------------------------ server side

    def send_response(self, request_id: int, cmd: int, status: int, body: bytes = b"") -> None:
        """Answer request ``request_id``; status 0 to AUTH/RECONNECT opens the session."""
        self._require_side(Side.SERVER, "send_response")
        self._require_not_closed()
        if self._in_flight.pop(request_id, None) is None:
            raise LocalProtocolError(f"no unanswered request {request_id}")
        if request_id == self._auth_id:
            ok = status == Status.SUCCESS
            self._fire(_Trigger.AUTH_SUCCEEDED if ok else _Trigger.AUTH_FAILED)
        self._queue(Response(cmd, request_id, status, body))

    def send_error(self, request_id: int, cmd: int, status: int, code: int, msg: str) -> None:
        """Answer with a non-zero ``status`` and an ``Error{code, msg}`` body."""
        if status == Status.SUCCESS:
            raise LocalProtocolError("an error response needs a non-zero status")
        self.send_response(request_id, cmd, status, encode_error(code, msg))

    def send_push(self, cmd: int, body: bytes) -> None:
        """Push to the client. Only once OPEN, except a CLOSE notice (cmd 0) before hanging up."""
        self._require_side(Side.SERVER, "send_push")
        self._require_not_closed()
        if self._state is not State.OPEN and cmd != ControlCommand.CLOSE:
            raise LocalProtocolError(f"push cmd {cmd} while {self._state.value}")
        self._queue(Push(cmd, body))

    def _server_request(self, request: Request) -> None:
        accepted = self._state is State.OPEN or (
            self._state is State.CONNECTING and request.cmd in _AUTH_COMMANDS
        )
        if not accepted:
            # The first request must be AUTH or RECONNECT, and nothing may overtake it.
            error = encode_error(NOT_AUTHENTICATED_CODE, "authenticate first (AUTH or RECONNECT)")
            self._queue(Response(request.cmd, request.request_id, Status.UNAUTHENTICATED, error))
            return
        if self._state is State.CONNECTING:
            self._fire(_Trigger.AUTH_STARTED)
            self._auth_id = request.request_id
        self._in_flight[request.request_id] = _InFlight(request.cmd, float("inf"))
        self._events.append(
            RequestReceived(request.request_id, request.cmd, request.timeout_ms, request.body)
        )

    def _queue(self, packet: Request | Response | Push) -> None:
        self._outgoing.append(serialize(packet, gzip_threshold=self._gzip_threshold))

    # ------------------------------------------------------------------ helpers

    def _violation(self, error: ProtocolError) -> None:
        self.error = error
        self._events.append(ProtocolViolation(error))
        self.close()

    def _require_side(self, side: Side, method: str) -> None:
        if self.side is not side:
            raise LocalProtocolError(f"{method}() is for the {side.value} side")

    def _require_not_closed(self) -> None:
        if self._state is State.CLOSED:
            raise ConnectionClosed("the connection is closed")


__all__ = [
    "AUTH_TIMEOUT_S",
    "DEFAULT_GZIP_THRESHOLD",
    "MAX_TIMEOUT_MS",
    "NOT_AUTHENTICATED_CODE",
    "REQUEST_TIMEOUT_S",
    "Event",
    "LocalProtocolError",
    "Protocol",
    "ProtocolViolation",
    "PushReceived",
    "RequestCancelled",
    "RequestReceived",
    "RequestTimedOut",
    "ResponseReceived",
    "Side",
    "State",
]
