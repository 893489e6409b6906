"""Test doubles for the sans-I/O protocol: a client and a server wired together in memory.

Like h11's ``ConnectionPair``: nothing here opens a socket or sleeps. The clock is a number the
test moves with :meth:`ProtocolPair.advance`; faults are injected per direction with
:meth:`ProtocolPair.drop_packets_sent` and :meth:`ProtocolPair.delay_packets_sent`.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass

from lb_mcp.sdk.wire.codec import Session, decode_auth_request, encode_auth_request, encode_session
from lb_mcp.sdk.wire.commands import ControlCommand, Status
from lb_mcp.sdk.wire.protocol import (
    DEFAULT_GZIP_THRESHOLD,
    Event,
    Protocol,
    RequestReceived,
    ResponseReceived,
    Side,
    State,
)

CLIENT = Side.CLIENT
SERVER = Side.SERVER
T0 = 1_700_000_000.0  # the pair's clock starts here (epoch seconds)


@dataclass(frozen=True)
class _Held:
    deliver_at: float
    sender: Side
    data: bytes


class ProtocolPair:
    """A client :class:`Protocol` and a server :class:`Protocol` over a fake, ordered link."""

    def __init__(
        self,
        *,
        now: float = T0,
        gzip_threshold: int | None = DEFAULT_GZIP_THRESHOLD,
        first_request_id: int = 1,
    ) -> None:
        self.now = now
        self.client = Protocol(CLIENT, first_request_id=first_request_id)
        self.server = Protocol(SERVER, gzip_threshold=gzip_threshold)
        self.sent: dict[Side, list[bytes]] = {CLIENT: [], SERVER: []}  # every message, as sent
        self._dropping: set[Side] = set()
        self._delay: dict[Side, float] = {}
        self._held: list[_Held] = []

    def protocol(self, side: Side) -> Protocol:
        return self.client if side is CLIENT else self.server

    def peer(self, side: Side) -> Protocol:
        return self.server if side is CLIENT else self.client

    # ------------------------------------------------------------------ moving bytes

    def flush(self) -> None:
        """Carry every pending message across, both ways, until the link is quiet."""
        moved = True
        while moved:
            moved = False
            for side in (CLIENT, SERVER):
                for data in self.protocol(side).data_to_send():
                    moved = True
                    self.sent[side].append(data)
                    if side in self._dropping:
                        continue
                    if side in self._delay:
                        self._held.append(_Held(self.now + self._delay[side], side, data))
                        continue
                    self.peer(side).receive_data(data, self.now)
            moved = self._deliver_due() or moved

    def _deliver_due(self) -> bool:
        due = [held for held in self._held if held.deliver_at <= self.now]
        self._held = [held for held in self._held if held.deliver_at > self.now]
        for held in due:  # the list keeps send order, and delays per side are equal
            self.peer(held.sender).receive_data(held.data, self.now)
        return bool(due)

    def advance(self, seconds: float) -> None:
        """Move the clock: deliver delayed messages now due, then fire both sides' timers."""
        self.now += seconds
        self.flush()
        for proto in (self.client, self.server):
            proto.handle_timeout(self.now)
        self.flush()

    # ------------------------------------------------------------------ faults

    @contextmanager
    def drop_packets_sent(self, side: Side) -> Iterator[None]:
        """Messages ``side`` sends inside the block are lost on the way."""
        self._dropping.add(side)
        try:
            yield
        finally:
            self._dropping.discard(side)

    @contextmanager
    def delay_packets_sent(self, side: Side, delay_s: float) -> Iterator[None]:
        """Messages ``side`` sends inside the block arrive ``delay_s`` later (see advance)."""
        self._delay[side] = delay_s
        try:
            yield
        finally:
            del self._delay[side]

    # ------------------------------------------------------------------ conversations

    def events(self, side: Side) -> list[Event]:
        return self.protocol(side).events_received()

    def authenticate(
        self,
        *,
        token: str = "otp-123",
        metadata: Mapping[str, str] | None = None,
        session: Session | None = None,
    ) -> Session:
        """Run the AUTH handshake (server answers with ``session``); both sides end up OPEN."""
        session = session or Session("sess-1", int(self.now * 1000) + 86_400_000, 10, 1)
        request_id = self.client.send_request(
            ControlCommand.AUTH, encode_auth_request(token, metadata), self.now
        )
        self.flush()
        [received] = self.events(SERVER)
        assert isinstance(received, RequestReceived)
        assert decode_auth_request(received.body)[0] == token
        self.server.send_response(
            received.request_id, received.cmd, Status.SUCCESS, encode_session(session)
        )
        self.flush()
        [answer] = self.events(CLIENT)
        assert isinstance(answer, ResponseReceived)
        assert answer.request_id == request_id and answer.ok
        assert self.client.state is State.OPEN and self.server.state is State.OPEN
        return session

    def call(self, cmd: int, body: bytes = b"") -> RequestReceived:
        """Client sends a request; returns what the server received (not yet answered)."""
        self.client.send_request(cmd, body, self.now)
        self.flush()
        [received] = self.events(SERVER)
        assert isinstance(received, RequestReceived)
        return received
