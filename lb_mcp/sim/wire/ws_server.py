"""The simulator's socket servers: what the quote and trade sockets share.

Each accepted WebSocket runs the SDK's own sans-I/O :class:`~lb_mcp.sdk.wire.protocol.Protocol` in
the
SERVER role (STYLE.md practice 11), so one codec and one state machine serve both ends::

    reader:  ws message -> proto.receive_data -> RequestReceived -> handler -> proto.send_*
    writer:  proto.data_to_send() -> ws.send            (one task: responses and pushes stay
                                                          in the order they were queued)
    pinger:  a WebSocket Ping every ``ping_interval`` s (unless ``faults.pings`` is off)

Only binary messages are sent; never Text frames, unsolicited Pongs or request packets
(protocol.md §0.1). AUTH consumes an OTP issued by ``GET /v1/socket/token`` and creates a
session (absolute expiry in epoch ms); RECONNECT re-binds a live session on a new link and
answers a new session id. Refusals are status 5 + ``Error``.

Test hooks: :class:`Faults` (stop pinging, stall commands, refuse RECONNECT) and
``drop_connections()`` (hang up without a closing handshake, as a network drop would).
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol as Interface

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed

from lb_mcp.sdk.errors import ProtocolError
from lb_mcp.sdk.wire.codec import (
    Session,
    decode_auth_request,
    decode_reconnect_request,
    encode_session,
)
from lb_mcp.sdk.wire.commands import ControlCommand, Status
from lb_mcp.sdk.wire.protocol import Protocol, ProtocolViolation, RequestReceived, Side
from lb_mcp.sim.faults.plan import FaultPlan

log = logging.getLogger("lb_mcp.sim.ws")


class SessionHost(Interface):
    """What a socket server needs of the simulator: its clock and its one-time passwords."""

    clock: Callable[[], float]

    def consume_otp(self, otp: str) -> bool: ...


SESSION_TTL_S = 24 * 3600  # real session lifetimes are UNCONFIRMED (protocol.md §4.3)
PING_INTERVAL_S = 20.0
CONNECTION_LIMIT = 10  # the ``limit`` of GET /v1/socket/token and of AuthResponse
AUTH_FAILED = 401003  # business code of a refused OTP or session


@dataclass
class Faults:
    """Protocol faults the simulator injects on demand (reliability.md §6)."""

    pings: bool = True  # False: stop sending WebSocket pings (a blackholed peer)
    reject_reconnect: bool = False  # every RECONNECT is refused with status 5
    stalled: set[int] = field(default_factory=set)  # cmds (either socket) never answered
    plan: FaultPlan = field(default_factory=FaultPlan)  # auth, revoked, trade shaping, mute

    def clear(self) -> None:
        self.pings, self.reject_reconnect = True, False
        self.stalled.clear()
        self.plan.clear()


@dataclass(frozen=True)
class Reply:
    """A handler's answer: status 0 + ``body``, or ``status`` + ``Error{code, msg}``.

    ``pushes`` go out right after the response (e.g. the ``is_first_push`` snapshot).
    """

    body: bytes = b""
    status: int = Status.SUCCESS
    code: int = 0
    msg: str = ""
    pushes: tuple[tuple[int, bytes], ...] = ()


def error(status: int, code: int, msg: str) -> Reply:
    return Reply(status=status, code=code, msg=msg)


class Sessions:
    """Session ids → absolute expiry (epoch ms). One store per socket kind."""

    def __init__(self, clock: Callable[[], float], ttl_s: float = SESSION_TTL_S) -> None:
        self._clock = clock
        self._ttl_ms = int(ttl_s * 1000)
        self._expiry: dict[str, int] = {}

    def create(self, online: int) -> Session:
        now_ms = int(self._clock() * 1000)
        self._expiry = {k: v for k, v in self._expiry.items() if v > now_ms}
        session_id = secrets.token_hex(16)
        self._expiry[session_id] = now_ms + self._ttl_ms
        return Session(session_id, now_ms + self._ttl_ms, CONNECTION_LIMIT, online)

    def rebind(self, session_id: str, online: int) -> Session | None:
        """A new session for a live ``session_id`` (which is then spent); None if unknown."""
        expiry = self._expiry.pop(session_id, None)
        if expiry is None or expiry <= int(self._clock() * 1000):
            return None
        return self.create(online)


class Connection:
    """One accepted WebSocket and its server-side protocol session."""

    def __init__(self, ws: ServerConnection, now: Callable[[], float]) -> None:
        self.ws = ws
        self.proto = Protocol(Side.SERVER)
        self.session_id: str | None = None
        self.pings = 0  # WebSocket pings sent
        self.pinged = asyncio.Event()  # set after every ping (tests clear it)
        self._now = now
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self.closed = asyncio.Event()

    @property
    def authenticated(self) -> bool:
        return self.session_id is not None and not self.closed.is_set()

    def push(self, cmd: int, body: bytes) -> None:
        """Queue a push (sync, so market listeners can call it); the writer sends it."""
        if self.closed.is_set():
            return
        try:
            self.proto.send_push(cmd, body)
        except ProtocolError:  # the session closed under us
            return
        self.kick()

    def kick(self) -> None:
        self._idle.clear()
        self._wake.set()

    async def drained(self) -> None:
        """Wait until everything queued so far has been handed to the socket."""
        await self._idle.wait()

    def mark_closed(self) -> None:
        self.closed.set()
        self._idle.set()  # nothing more will be sent: nobody waits on a dead link
        self.proto.close()

    def drop(self) -> None:
        """Hang up without a closing handshake."""
        self.ws.transport.abort()

    async def writer(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            for data in self.proto.data_to_send():
                await self.ws.send(data)
            if not self._wake.is_set() and not self.closed.is_set():
                self._idle.set()

    async def pinger(self, interval: float, faults: Faults) -> None:
        while True:
            await asyncio.sleep(interval)
            if faults.pings:
                self.pings += 1
                self.pinged.set()
                waiter = await self.ws.ping()
                if isinstance(waiter, asyncio.Future):
                    waiter.add_done_callback(_retrieve)


def _retrieve(future: asyncio.Future[float]) -> None:
    if not future.cancelled():
        future.exception()  # a ping still unanswered when the link closes is not an error


class SocketServer:
    """A quote or trade socket server; subclasses answer the business commands."""

    kind = "socket"

    def __init__(self, sim: SessionHost, faults: Faults, *, ping_interval: float) -> None:
        self.sim = sim
        self.faults = faults
        self.ping_interval = ping_interval
        self.sessions = Sessions(sim.clock)
        self.connections: set[Connection] = set()
        self.counts = {"auth": 0, "auth_refused": 0, "reconnect": 0, "reconnect_refused": 0}
        self._server: Server | None = None

    # ------------------------------------------------------------------ life cycle

    async def start(self, host: str) -> None:
        self._server = await serve(
            self._serve,
            host,
            0,
            compression=None,
            ping_interval=None,  # our own pinger, so the "no pings" fault can switch it off
            ping_timeout=None,
            close_timeout=1,
            max_size=1 << 20,
        )

    @property
    def server(self) -> Server:
        if self._server is None:
            raise RuntimeError(f"the {self.kind} socket server is not running")
        return self._server

    @property
    def port(self) -> int:
        return int(next(iter(self.server.sockets)).getsockname()[1])

    @property
    def online(self) -> int:
        return sum(1 for conn in self.connections if conn.authenticated)

    async def close(self) -> None:
        if self._server is None:
            return
        self._server.close()
        await self._server.wait_closed()
        self._server = None

    async def drop_connections(self) -> int:
        """Hang up every connection (no closing handshake); returns how many were dropped."""
        dropped = list(self.connections)
        for conn in dropped:
            conn.drop()
        for conn in dropped:
            await conn.closed.wait()
        return len(dropped)

    # ------------------------------------------------------------------ serving

    async def _serve(self, ws: ServerConnection) -> None:
        loop = asyncio.get_running_loop()
        conn = Connection(ws, loop.time)
        self.connections.add(conn)
        tasks = [
            loop.create_task(conn.writer(), name=f"sim-{self.kind}-writer"),
            loop.create_task(
                conn.pinger(self.ping_interval, self.faults), name=f"sim-{self.kind}-ping"
            ),
        ]
        try:
            async for message in ws:
                if isinstance(message, str):
                    break  # the client never sends Text frames; treat one as a broken peer
                conn.proto.receive_data(message, loop.time())
                for event in conn.proto.events_received():
                    if isinstance(event, RequestReceived):
                        self._answer(conn, event)
                    elif isinstance(event, ProtocolViolation):
                        log.info("%s socket: protocol violation: %s", self.kind, event.error)
                        return
                conn.kick()
        except ConnectionClosed:
            pass
        finally:
            conn.mark_closed()
            self.connections.discard(conn)
            self.on_closed(conn)
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError, ConnectionClosed):
                    await task

    def _answer(self, conn: Connection, request: RequestReceived) -> None:
        if request.cmd in self.faults.stalled:
            return  # received, never answered (reliability.md §6 row 12)
        try:
            if request.cmd == ControlCommand.AUTH:
                reply = self._auth(conn, request)
            elif request.cmd == ControlCommand.RECONNECT:
                reply = self._reconnect(conn, request)
            else:
                reply = self.handle(conn, request)
        except ProtocolError as exc:
            reply = error(Status.BAD_REQUEST, 301600, f"bad request body: {exc}")
        except Exception:
            log.exception("%s socket: cmd %d failed", self.kind, request.cmd)
            reply = error(Status.SERVER_INTERNAL_ERROR, 301602, "server error")
        if reply.status == Status.SUCCESS:
            conn.proto.send_response(request.request_id, request.cmd, reply.status, reply.body)
        else:
            conn.proto.send_error(
                request.request_id, request.cmd, reply.status, reply.code, reply.msg
            )
        for cmd, body in reply.pushes:
            conn.proto.send_push(cmd, body)

    def _auth(self, conn: Connection, request: RequestReceived) -> Reply:
        token, _ = decode_auth_request(request.body)
        if (revoked := self.faults.plan.revoked_error()) is not None:
            self.counts["auth_refused"] += 1
            return error(Status.UNAUTHENTICATED, *revoked)
        if (limited := self.faults.plan.auth_refusal()) is not None:
            self.counts["auth_refused"] += 1
            return error(Status.PERMISSION_DENIED, *limited)
        if not self.sim.consume_otp(token):
            self.counts["auth_refused"] += 1
            return error(Status.UNAUTHENTICATED, AUTH_FAILED, "invalid or used otp")
        session = self.sessions.create(self.online + 1)
        conn.session_id = session.session_id
        self.counts["auth"] += 1
        return Reply(encode_session(session))

    def _reconnect(self, conn: Connection, request: RequestReceived) -> Reply:
        session_id, _ = decode_reconnect_request(request.body)
        session = None
        if (revoked := self.faults.plan.revoked_error()) is not None:
            self.counts["reconnect_refused"] += 1
            return error(Status.UNAUTHENTICATED, *revoked)
        if not self.faults.reject_reconnect:
            session = self.sessions.rebind(session_id, self.online + 1)
        if session is None:
            self.counts["reconnect_refused"] += 1
            return error(Status.UNAUTHENTICATED, AUTH_FAILED, "session expired or unknown")
        conn.session_id = session.session_id
        self.counts["reconnect"] += 1
        return Reply(encode_session(session))

    # ------------------------------------------------------------------ subclass hooks

    def handle(self, conn: Connection, request: RequestReceived) -> Reply:
        return error(Status.BAD_REQUEST, 301600, "not supported by simulator")

    def on_closed(self, conn: Connection) -> None:
        """A connection ended (drop its subscriptions)."""


def require_loopback(host: str) -> None:
    """The simulator (and its admin hooks) must never listen beyond this machine."""
    if host == "localhost":
        return
    try:
        loopback = ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        raise ValueError(f"the simulator binds loopback only, not {host!r}")


__all__ = [
    "CONNECTION_LIMIT",
    "Connection",
    "Faults",
    "Reply",
    "SessionHost",
    "Sessions",
    "SocketServer",
    "error",
    "require_loopback",
]
