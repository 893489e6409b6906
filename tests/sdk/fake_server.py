"""A tiny Longbridge-like socket server for driver tests, built on the protocol core (SERVER).

It listens on ``127.0.0.1:0`` with ``websockets`` and answers what the quote (or trade) socket
needs: AUTH / RECONNECT with sessions, the cmd-4 profile, Subscribe / Unsubscribe (with a first
push), a few pulls, and trade Sub / Unsub. Everything is recorded so tests can assert on it,
and faults are one call away::

    async with FakeServer() as server:
        server.handlers[QuoteCommand.QuerySecurityQuote] = stall_forever   # a stalled command
        await server.drop_all()                                             # server drops links
        server.connections[-1].mute()                                       # blackhole: no pongs
        server.reject_reconnect = True                                      # session forgotten

``server.token_transport()`` is an ``httpx.MockTransport`` serving ``GET /v1/socket/token``
(counted in ``server.otp_calls``) so the client's real OTP path runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Generic, Self, TypeVar

import httpx
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed

from lb_mcp.sdk.config import Config
from lb_mcp.sdk.quote.context import QuoteContext
from lb_mcp.sdk.transport.http import HttpClient
from lb_mcp.sdk.transport.ws import WsOptions
from lb_mcp.sdk.wire.codec import (
    Session,
    decode_auth_request,
    decode_message,
    decode_reconnect_request,
    encode_session,
)
from lb_mcp.sdk.wire.commands import ControlCommand, QuoteCommand, Status, TradeCommand
from lb_mcp.sdk.wire.proto import quote_pb2, trade_pb2
from lb_mcp.sdk.wire.protocol import Protocol, ProtocolViolation, RequestReceived, Side
from lb_mcp.sim import Simulator

T0_MS = 1_700_000_000_000
T = TypeVar("T")


@dataclass
class Reply:
    """What a handler answers: status 0 + body, or an ``Error{code, msg}`` with ``status``."""

    body: bytes = b""
    status: int = Status.SUCCESS
    code: int = 0
    msg: str = ""


Handler = Callable[["FakeConnection", RequestReceived], Awaitable[Reply | None]]


@dataclass
class FakeConnection:
    """One accepted WebSocket and its server-side protocol session."""

    ws: ServerConnection
    server: FakeServer
    proto: Protocol = field(default_factory=lambda: Protocol(Side.SERVER))
    requests: list[RequestReceived] = field(default_factory=list)
    subs: dict[str, set[int]] = field(default_factory=dict)
    auth_metadata: dict[str, str] | None = None
    session_id: str | None = None
    closed: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def path(self) -> str:
        return self.ws.request.path if self.ws.request else ""

    @property
    def headers(self) -> dict[str, str]:
        return (
            {k.lower(): v for k, v in self.ws.request.headers.raw_items()}
            if self.ws.request
            else {}
        )

    def cmds(self) -> list[int]:
        return [r.cmd for r in self.requests]

    async def flush(self) -> None:
        for data in self.proto.data_to_send():
            with contextlib.suppress(ConnectionClosed):
                await self.ws.send(data)

    async def push(self, cmd: int, body: bytes) -> None:
        self.proto.send_push(cmd, body)
        await self.flush()

    def mute(self) -> None:
        """Stop reading: our pings are never answered, nothing the client sends arrives."""
        self.ws.transport.pause_reading()

    def drop(self) -> None:
        """Hang up without a closing handshake."""
        self.ws.transport.abort()


class FakeServer:
    """Quote (``kind="quote"``) or trade (``kind="trade"``) socket server on 127.0.0.1:0."""

    def __init__(self, kind: str = "quote", *, ping_interval: float | None = 20.0) -> None:
        self.kind = kind
        self.ping_interval = ping_interval
        self.connections: list[FakeConnection] = []
        self.handlers: dict[int, Handler] = {}
        self.sessions: set[str] = set()
        self.reject_reconnect = False
        self.auth_reply: Reply | None = None  # e.g. Reply(status=5, code=401003, msg="...")
        self.token_reply: dict[str, Any] | None = None  # envelope override for /socket/token
        self.otp_limit, self.otp_online = 10, 0
        self.otp_calls = 0
        self.issued_otps: set[str] = set()
        self.rate_limits: list[tuple[int, int, int]] = []  # (cmd, limit, burst)
        self.prices: dict[str, str] = {"700.HK": "321.0", "AAPL.US": "190.5", "D05.SG": "35.1"}
        self.sequences: dict[tuple[str, int], int] = {}
        self.topics: list[str] = []
        self._ids = itertools.count(1)
        self._server: Server | None = None
        self._changed = asyncio.Event()
        self._tasks: set[asyncio.Task[None]] = set()

    # ------------------------------------------------------------------ lifecycle

    async def __aenter__(self) -> Self:
        self._server = await serve(
            self._serve,
            "127.0.0.1",
            0,
            compression=None,
            ping_interval=self.ping_interval,
            ping_timeout=None,
            close_timeout=1,
        )
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        assert self._server is not None
        self._server.close()
        await self._server.wait_closed()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    @property
    def port(self) -> int:
        assert self._server is not None
        return int(self._server.sockets[0].getsockname()[1])

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/v2"

    def config(self, **overrides: Any) -> Config:
        return Config.from_apikey(
            "app-key-1",
            "app-secret-1",
            "access-token-1",
            http_url="http://lb.test",
            quote_ws_url=self.url,
            trade_ws_url=self.url,
            env={},
            **overrides,
        )

    def http(self, config: Config) -> HttpClient:
        return HttpClient(config, transport=self.token_transport())

    @property
    def open_connections(self) -> list[FakeConnection]:
        return [c for c in self.connections if not c.closed.is_set()]

    async def wait_for(self, predicate: Callable[[], bool]) -> None:
        """Wait until ``predicate()`` holds (re-checked whenever the server sees something)."""
        while not predicate():
            changed = self._changed
            await changed.wait()

    def _notify(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    # ------------------------------------------------------------------ OTP endpoint

    def token_transport(self) -> httpx.MockTransport:
        def handle(request: httpx.Request) -> httpx.Response:
            assert request.url.path == "/v1/socket/token"
            self.otp_calls += 1
            self._notify()
            if self.token_reply is not None:
                return httpx.Response(200, content=json.dumps(self.token_reply).encode())
            otp = f"otp-{next(self._ids)}"
            self.issued_otps.add(otp)
            data = {"otp": otp, "limit": self.otp_limit, "online": self.otp_online}
            envelope = {"code": 0, "message": "", "data": data}
            return httpx.Response(200, content=json.dumps(envelope).encode())

        return httpx.MockTransport(handle)

    # ------------------------------------------------------------------ pushes

    def next_sequence(self, symbol: str, cmd: int) -> int:
        key = (symbol, cmd)
        self.sequences[key] = self.sequences.get(key, 0) + 1
        return self.sequences[key]

    def quote_push(self, symbol: str, *, sequence: int | None = None, **fields: Any) -> bytes:
        seq = self.next_sequence(symbol, 101) if sequence is None else sequence
        values: dict[str, Any] = {
            "last_done": self.prices.get(symbol, "10"),
            "open": "300.0",
            "high": "330.0",
            "low": "299.0",
            "timestamp": 1_700_000_000 + seq,
            "volume": 1000 * seq,
            "turnover": "1000",
        }
        values.update(fields)
        return bytes(quote_pb2.PushQuote(symbol=symbol, sequence=seq, **values).SerializeToString())

    async def push_all(self, cmd: int, body: bytes) -> None:
        for conn in self.open_connections:
            if conn.session_id is not None:
                await conn.push(cmd, body)

    async def push_quote(self, symbol: str, **fields: Any) -> int:
        """Push a quote to every connection subscribed to it; returns its sequence."""
        body = self.quote_push(symbol, **fields)
        for conn in self.open_connections:
            if 1 in conn.subs.get(symbol, set()):
                await conn.push(QuoteCommand.PushQuoteData, body)
        return int(decode_message(quote_pb2.PushQuote, body).sequence)

    async def drop_all(self) -> None:
        for conn in self.open_connections:
            conn.drop()
        await self.wait_for(lambda: not self.open_connections)

    # ------------------------------------------------------------------ serving

    async def _serve(self, ws: ServerConnection) -> None:
        conn = FakeConnection(ws, self)
        self.connections.append(conn)
        self._notify()
        loop = asyncio.get_running_loop()
        try:
            async for message in ws:
                if isinstance(message, str):
                    break
                conn.proto.receive_data(message, loop.time())
                for event in conn.proto.events_received():
                    if isinstance(event, RequestReceived):
                        conn.requests.append(event)
                        task = loop.create_task(self._answer(conn, event))
                        self._tasks.add(task)
                        task.add_done_callback(self._tasks.discard)
                    elif isinstance(event, ProtocolViolation):
                        return
                await conn.flush()
                self._notify()
        except ConnectionClosed:
            pass
        finally:
            conn.closed.set()
            self._notify()

    async def _answer(self, conn: FakeConnection, request: RequestReceived) -> None:
        handler = self.handlers.get(request.cmd) or self._default_handler(request.cmd)
        reply = await handler(conn, request) if handler else None
        if reply is None:
            reply = Reply(status=Status.BAD_REQUEST, code=301600, msg="unsupported command")
        if conn.closed.is_set() or isinstance(reply, _AlreadyAnswered):
            return
        if reply.status == Status.SUCCESS:
            conn.proto.send_response(request.request_id, request.cmd, Status.SUCCESS, reply.body)
        else:
            conn.proto.send_error(
                request.request_id, request.cmd, reply.status, reply.code, reply.msg
            )
        await conn.flush()
        self._notify()

    def _default_handler(self, cmd: int) -> Handler | None:
        common: dict[int, Handler] = {
            ControlCommand.AUTH: self._auth,
            ControlCommand.RECONNECT: self._reconnect,
        }
        quote: dict[int, Handler] = {
            QuoteCommand.QueryUserQuoteProfile: self._profile,
            QuoteCommand.Subscribe: self._subscribe,
            QuoteCommand.Unsubscribe: self._unsubscribe,
            QuoteCommand.QuerySecurityQuote: self._quotes,
            QuoteCommand.QueryDepth: self._depth,
            QuoteCommand.QueryMarketTradeDay: self._trade_days,
        }
        trade: dict[int, Handler] = {TradeCommand.SUB: self._sub, TradeCommand.UNSUB: self._unsub}
        table = {**common, **(quote if self.kind == "quote" else trade)}
        return table.get(cmd)

    def _new_session(self, conn: FakeConnection) -> bytes:
        session_id = f"sess-{next(self._ids)}"
        self.sessions.add(session_id)
        conn.session_id = session_id
        return encode_session(Session(session_id, T0_MS * 2, self.otp_limit, 1))

    async def _auth(self, conn: FakeConnection, request: RequestReceived) -> Reply:
        token, metadata = decode_auth_request(request.body)
        conn.auth_metadata = metadata
        if self.auth_reply is not None:
            return self.auth_reply
        if token not in self.issued_otps:
            return Reply(status=Status.UNAUTHENTICATED, code=401004, msg="invalid otp")
        self.issued_otps.discard(token)
        return Reply(self._new_session(conn))

    async def _reconnect(self, conn: FakeConnection, request: RequestReceived) -> Reply:
        session_id, metadata = decode_reconnect_request(request.body)
        conn.auth_metadata = metadata
        if self.reject_reconnect or session_id not in self.sessions:
            return Reply(status=Status.UNAUTHENTICATED, code=401004, msg="session expired")
        self.sessions.discard(session_id)
        return Reply(self._new_session(conn))

    async def _profile(self, conn: FakeConnection, request: RequestReceived) -> Reply:
        profile = quote_pb2.UserQuoteProfileResponse(
            member_id=4242,
            quote_level="LV1",
            rate_limit=[
                quote_pb2.RateLimit(command=_enum(c), limit=lim, burst=b)
                for c, lim, b in self.rate_limits
            ],
        )
        return Reply(profile.SerializeToString())

    async def _subscribe(self, conn: FakeConnection, request: RequestReceived) -> Reply:
        message = decode_message(quote_pb2.SubscribeRequest, request.body)
        for symbol in message.symbol:
            conn.subs.setdefault(symbol, set()).update(int(t) for t in message.sub_type)
        reply = Reply()
        if message.is_first_push and 1 in message.sub_type:
            # Answer first, then the snapshot pushes, as a real server does.
            conn.proto.send_response(request.request_id, request.cmd, Status.SUCCESS, b"")
            for symbol in message.symbol:
                conn.proto.send_push(QuoteCommand.PushQuoteData, self.quote_push(symbol))
            await conn.flush()
            return _ALREADY_ANSWERED
        return reply

    async def _unsubscribe(self, conn: FakeConnection, request: RequestReceived) -> Reply:
        message = decode_message(quote_pb2.UnsubscribeRequest, request.body)
        for symbol in message.symbol:
            conn.subs.get(symbol, set()).difference_update(int(t) for t in message.sub_type)
        return Reply()

    async def _quotes(self, conn: FakeConnection, request: RequestReceived) -> Reply:
        message = decode_message(quote_pb2.MultiSecurityRequest, request.body)
        quotes = [
            quote_pb2.SecurityQuote(
                symbol=s,
                last_done=self.prices[s],
                prev_close="300.0",
                open="300.0",
                high="330.0",
                low="299.0",
                timestamp=1_700_000_000,
                volume=123_400,
                turnover="39000000",
            )
            for s in message.symbol
            if s in self.prices
        ]
        return Reply(quote_pb2.SecurityQuoteResponse(secu_quote=quotes).SerializeToString())

    async def _depth(self, conn: FakeConnection, request: RequestReceived) -> Reply:
        symbol = decode_message(quote_pb2.SecurityRequest, request.body).symbol
        answer = quote_pb2.SecurityDepthResponse(
            symbol=symbol,
            ask=[quote_pb2.Depth(position=1, price="321.2", volume=500, order_num=3)],
            bid=[quote_pb2.Depth(position=1, price="", volume=0, order_num=0)],
        )
        return Reply(answer.SerializeToString())

    async def _trade_days(self, conn: FakeConnection, request: RequestReceived) -> Reply:
        answer = quote_pb2.MarketTradeDayResponse(
            trade_day=["20240102", "20240103"], half_trade_day=["20241224"]
        )
        return Reply(answer.SerializeToString())

    async def _sub(self, conn: FakeConnection, request: RequestReceived) -> Reply:
        topics = list(decode_message(trade_pb2.Sub, request.body).topics)
        ok = [t for t in topics if t == "private"]
        self.topics = sorted(set(self.topics) | set(ok))
        conn.subs = {t: {1} for t in self.topics}
        answer = trade_pb2.SubResponse(success=ok, current=self.topics)
        return Reply(answer.SerializeToString())

    async def _unsub(self, conn: FakeConnection, request: RequestReceived) -> Reply:
        topics = set(decode_message(trade_pb2.Unsub, request.body).topics)
        self.topics = [t for t in self.topics if t not in topics]
        conn.subs = {t: {1} for t in self.topics}
        return Reply(trade_pb2.UnsubResponse(current=self.topics).SerializeToString())


def _enum(value: int) -> Any:
    return value


class _AlreadyAnswered(Reply):
    """Marker: the handler answered itself (to order a response before pushes)."""


_ALREADY_ANSWERED = _AlreadyAnswered()


async def stall_forever(conn: FakeConnection, request: RequestReceived) -> Reply | None:
    """A handler that never answers (until the test ends)."""
    await asyncio.Event().wait()
    return None


def order_changed_body(order_id: str, status: str, *, topic: str = "private") -> bytes:
    data = {
        "side": "Buy",
        "stock_name": "Tencent",
        "submitted_quantity": "100",
        "symbol": "700.HK",
        "order_type": "LO",
        "submitted_price": "320",
        "executed_quantity": "0",
        "executed_price": "0",
        "order_id": order_id,
        "currency": "HKD",
        "status": status,
        "submitted_at": "1700000000",
        "updated_at": "1700000001",
        "trigger_price": "",
        "msg": "",
        "tag": "Normal",
        "trigger_status": "NOT_USED",
        "trigger_at": "0",
        "trailing_amount": "",
        "trailing_percent": "",
        "limit_offset": "",
        "account_no": "HK0001",
        "last_share": "",
        "last_price": "",
        "remark": "",
    }
    payload = json.dumps({"event": "order_changed_lb", "data": data}).encode()
    note = trade_pb2.Notification(
        topic=topic, content_type=_enum(1), dispatch_type=_enum(1), data=payload
    )
    return bytes(note.SerializeToString())


# ---------------------------------------------------------------------------- client helpers


def no_delay() -> Iterator[float]:
    """Reconnect back-off for tests: retry at once."""
    return itertools.repeat(0.0)


def fast_options(**overrides: Any) -> WsOptions:
    return WsOptions(**{"backoff": no_delay, **overrides})


@asynccontextmanager
async def quote_context(
    server: FakeServer, options: WsOptions | None = None, **kwargs: Any
) -> AsyncIterator[QuoteContext]:
    """A QuoteContext on ``server`` (OTPs from its token endpoint), closed afterwards."""
    config = server.config()
    async with (
        server.http(config) as http,
        QuoteContext(config, http=http, options=options or fast_options(), **kwargs) as ctx,
    ):
        yield ctx


class Recorder(Generic[T]):
    """Collects callback arguments; tests wait on a condition instead of sleeping."""

    def __init__(self) -> None:
        self.items: list[T] = []
        self._changed = asyncio.Event()

    def __call__(self, *args: Any) -> None:
        self.items.append(args[-1] if len(args) == 1 else args)  # type: ignore[arg-type]
        self._changed.set()
        self._changed = asyncio.Event()

    async def wait_for(self, predicate: Callable[[list[T]], bool]) -> list[T]:
        while not predicate(self.items):
            await self._changed.wait()
        return self.items


# ---------------------------------------------------------------------------- the simulator


@asynccontextmanager
async def sim_quote_context(
    options: WsOptions | None = None, **kwargs: Any
) -> AsyncIterator[tuple[Simulator, QuoteContext]]:
    async with (
        Simulator(seed=7, tick=False) as sim,
        QuoteContext(sim.config, options=options or fast_options(), **kwargs) as ctx,
    ):
        yield sim, ctx
