"""The session of one socket (quote or trade): lazy connect, authenticate, reconnect, report.

:class:`WsSession` drives :class:`~lb_mcp.sdk.transport.ws_link.Link` s (one WebSocket each, which
pump
bytes through the sans-I/O protocol core and keep themselves alive) through this life cycle::

    WebSocket ?version=1&codec=1&platform=9 -> RECONNECT (session still valid)
                                            or OTP (GET /v1/socket/token) + AUTH
      -> post-auth hook (quote: cmd-4 profile, first connect only) -> OPEN: requests and pushes
      -> link lost -> back-off -> again; after a reconnect the ``on_reconnected`` hook runs

Where it is deliberately better than the official SDK (reliability.md §2, §6):

* Liveness: our own pings and a data watchdog (``Liveness``), so a dead or mute link is
  dropped within ~20-30 s instead of 120 s.
* Reconnect: RECONNECT while the session is valid, else a fresh OTP + AUTH (a RECONNECT
  refused with status 5 falls through to AUTH on the same link); jittered exponential
  back-off from an injected generator instead of a fixed 2 s; an OTP budget; auth failures
  (401xxx / 403xxx, or status 5/6 on AUTH) become terminal after ``max_auth_attempts``
  instead of looping, and so does ``online >= limit``.
* The OTP is fetched only once the WebSocket is up, so a server that is down costs no OTPs.
* Exactly one socket per session, however many callers race for the first connect.

In-flight requests fail with :class:`~lb_mcp.sdk.transport.ws_link.ConnectionLost` when the link
drops
(the caller decides about retrying: the quote context re-sends pulls, like the SDK).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Final

from websockets.exceptions import WebSocketException

from lb_mcp.sdk.errors import (
    ApiError,
    AuthError,
    ConnectionClosed,
    OpenApiException,
    ProtocolError,
    RateLimitError,
    RequestTimeout,
)
from lb_mcp.sdk.transport.backoff import BackoffFactory, Clock, OtpBudget, Sleep, default_backoff
from lb_mcp.sdk.transport.http import HttpClient
from lb_mcp.sdk.transport.ws_link import (
    HANDSHAKE_QUERY,
    ConnectionLost,
    Link,
    Liveness,
    PushHandler,
)
from lb_mcp.sdk.wire.codec import (
    Response,
    Session,
    decode_session,
    encode_auth_request,
    encode_reconnect_request,
    response_error,
)
from lb_mcp.sdk.wire.commands import ControlCommand, Status
from lb_mcp.sdk.wire.protocol import AUTH_TIMEOUT_S, REQUEST_TIMEOUT_S, ResponseReceived

log = logging.getLogger(__name__)

TOKEN_PATH: Final = "/v1/socket/token"

OtpSource = Callable[[], Awaitable[str]]
Call = Callable[[int, bytes], Awaitable[bytes]]
PostAuthHook = Callable[[Call], Awaitable[None]]
ReconnectedHook = Callable[[], Awaitable[None]]


class ConnectionLimitError(ApiError):
    """The account already holds as many sockets as the server allows (``online >= limit``)."""


class OtpBudgetExhausted(RateLimitError):
    """This socket fetched its OTP budget; ``retry_after_s`` says when one more fits."""


# ---------------------------------------------------------------------------- OTP


async def fetch_otp(http: HttpClient) -> str:
    """``GET /v1/socket/token``; refuses (terminally) when ``online >= limit`` like the SDK."""
    data = await http.request("GET", TOKEN_PATH)
    otp = data.get("otp") if isinstance(data, dict) else None
    if not isinstance(otp, str) or not otp:
        raise ProtocolError(f"{TOKEN_PATH}: the answer carries no otp")
    limit, online = data.get("limit"), data.get("online")
    if isinstance(limit, int) and isinstance(online, int) and online >= limit:
        raise ConnectionLimitError(
            f"connections limitation is hit, limit = {limit}, online = {online}"
        )
    return otp


# ---------------------------------------------------------------------------- options / state


@dataclass(frozen=True, slots=True)
class WsOptions:
    """Driver knobs shared by the quote and trade sockets; tests pass zero back-off."""

    backoff: BackoffFactory = default_backoff
    liveness: Liveness = field(default_factory=Liveness)
    sleep: Sleep = asyncio.sleep
    otp_limit: int = 6  # OTP fetches allowed per ``otp_window`` seconds
    otp_window: float = 300.0
    max_auth_attempts: int = 2  # 401xxx/403xxx in a row before the socket gives up for good
    request_timeout: float = REQUEST_TIMEOUT_S


@dataclass(frozen=True, slots=True)
class ConnectionState:
    """Secret-free snapshot for a status tool."""

    name: str
    status: str  # idle | connecting | connected | reconnecting | failed | closed
    connected: bool
    reconnects: int
    last_error: str | None
    established_at: datetime | None  # when the current connection was authenticated (UTC)
    otp_calls: int


def _describe(exc: BaseException) -> str:
    if isinstance(exc, OpenApiException):
        return str(exc)
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


# ---------------------------------------------------------------------------- the session


class WsSession:
    """One socket with lazy connect, request correlation, liveness and reconnect.

    ``on_push(cmd, body)`` is called from the read loop and must not block. ``post_auth``
    runs once, after the first successful AUTH, with a ``call(cmd, body) -> body`` function;
    ``on_reconnected`` runs after every later (re)connection, e.g. to resubscribe.
    """

    def __init__(
        self,
        name: str,
        url: str,
        *,
        otp: OtpSource,
        on_push: PushHandler,
        metadata: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        post_auth: PostAuthHook | None = None,
        on_reconnected: ReconnectedHook | None = None,
        options: WsOptions | None = None,
        clock: Clock = time.time,
    ) -> None:
        self.name = name
        self._url = url + ("&" if "?" in url else "?") + HANDSHAKE_QUERY
        self._otp = otp
        self._on_push = on_push
        self._metadata = dict(metadata or {})
        self._headers = dict(headers or {})
        self._post_auth = post_auth
        self._post_auth_done = False
        self.on_reconnected = on_reconnected
        self._options = options or WsOptions()
        self._clock = clock
        self.otp_budget = OtpBudget(self._options.otp_limit, self._options.otp_window, clock=clock)
        self._session: Session | None = None
        self._link: Link | None = None
        self._runner: asyncio.Task[None] | None = None
        self._epoch = 0  # one per runner start; tags first-connect failures
        self._failure: tuple[int, OpenApiException] | None = None
        self._terminal: OpenApiException | None = None
        self._closed = False
        self._ever_connected = False
        self._auth_failures = 0
        self._changed = asyncio.Event()
        self._last_error: str | None = None
        self._established_at: float | None = None
        self.reconnects = 0
        self.connects = 0  # sockets opened, for tests of "exactly one socket"

    def __repr__(self) -> str:
        return f"WsSession({self.name!r}, status={self.state().status!r})"

    # ------------------------------------------------------------------ public API

    @property
    def connected(self) -> bool:
        return self._link is not None and self._link.open

    def state(self) -> ConnectionState:
        if self._closed:
            status = "closed"
        elif self._terminal is not None:
            status = "failed"
        elif self.connected:
            status = "connected"
        elif self._runner is None:
            status = "idle"
        else:
            status = "reconnecting" if self._ever_connected else "connecting"
        established = (
            datetime.fromtimestamp(self._established_at, tz=UTC)
            if self._established_at is not None and self.connected
            else None
        )
        return ConnectionState(
            name=self.name,
            status=status,
            connected=self.connected,
            reconnects=self.reconnects,
            last_error=self._last_error,
            established_at=established,
            otp_calls=self.otp_budget.calls,
        )

    async def ensure_open(self, timeout_s: float | None = None) -> None:
        """Connect (once, shared by every concurrent caller) if not connected yet."""
        loop = asyncio.get_running_loop()
        await self._wait_open(loop.time() + (timeout_s or self._options.request_timeout))

    async def request(
        self, cmd: int, body: bytes = b"", *, timeout_s: float | None = None
    ) -> bytes:
        """Send one request and return the response body; raise what a failure stands for.

        Waits for the socket (connecting it if needed) within the same ``timeout_s``.
        """
        loop = asyncio.get_running_loop()
        timeout_s = timeout_s or self._options.request_timeout
        deadline = loop.time() + timeout_s
        link = await self._wait_open(deadline)
        response = await link.call(cmd, body, max(deadline - loop.time(), 0.001))
        if not response.ok:
            raise response_error(_as_response(response))
        return response.body

    async def close(self) -> None:
        """Close the socket and stop reconnecting; waits for every task it started."""
        if self._closed:
            return
        self._closed = True
        runner, link = self._runner, self._link
        if runner is not None:
            runner.cancel()
        if link is not None:
            await link.discard(graceful=True)
        if runner is not None:
            await asyncio.gather(runner, return_exceptions=True)
        self._notify()

    # ------------------------------------------------------------------ waiting for OPEN

    def _notify(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    async def _wait_open(self, deadline: float) -> Link:
        loop = asyncio.get_running_loop()
        while True:
            if self._closed:
                raise ConnectionClosed(f"the {self.name} socket is closed")
            if self._terminal is not None:
                raise self._terminal
            link = self._link
            if link is not None and link.open:
                return link
            if self._runner is None:
                self._epoch += 1
                self._runner = loop.create_task(self._run(), name=f"lb-{self.name}-socket")
            epoch, changed = self._epoch, self._changed
            remaining = deadline - loop.time()
            try:
                if remaining <= 0:
                    raise TimeoutError
                async with asyncio.timeout(remaining):
                    await changed.wait()
            except TimeoutError:
                detail = f" (last error: {self._last_error})" if self._last_error else ""
                raise RequestTimeout(f"the {self.name} socket is not connected{detail}") from None
            if self._failure is not None and self._failure[0] == epoch:
                raise self._failure[1]

    # ------------------------------------------------------------------ connection runner

    async def _run(self) -> None:
        epoch = self._epoch
        delays: Iterator[float] | None = None
        try:
            while not self._closed:
                try:
                    link = await self._establish()
                except OtpBudgetExhausted as exc:
                    if self._give_up(epoch, exc):
                        return
                    delays = delays or self._options.backoff()
                    await self._options.sleep(max(exc.retry_after_s, next(delays)))
                    continue
                except (OpenApiException, OSError, TimeoutError, WebSocketException) as exc:
                    error = (
                        exc
                        if isinstance(exc, OpenApiException)
                        else ConnectionClosed(
                            f"could not connect the {self.name} socket: {_describe(exc)}"
                        )
                    )
                    if self._give_up(epoch, error):
                        return
                    delays = delays or self._options.backoff()
                    await self._options.sleep(next(delays))
                    continue
                delays = None
                await self._serve(link)
                if self._closed:
                    return
                delays = self._options.backoff()
                await self._options.sleep(next(delays))
        finally:
            if self._runner is asyncio.current_task():
                self._runner = None
            self._notify()

    def _give_up(self, epoch: int, error: OpenApiException) -> bool:
        """Record a failed attempt; True when the runner must stop (terminal or first connect)."""
        self._last_error = _describe(error)
        log.warning("%s socket: connect failed: %s", self.name, self._last_error)
        if isinstance(error, ConnectionLimitError):
            self._terminal = error
        elif isinstance(error, AuthError):
            self._auth_failures += 1
            if self._auth_failures >= self._options.max_auth_attempts:
                self._terminal = error
        if self._terminal is not None:
            return True
        if not self._ever_connected:
            # The caller of the first connect gets the error; the next call starts afresh.
            self._failure = (epoch, error)
            return True
        return False

    async def _serve(self, link: Link) -> None:
        """Publish an authenticated link, run the reconnect hook, wait for the link to end.

        The hook runs in its own task: if the link drops while it runs (its requests would
        wait for a reconnect that only this runner can make) it is cancelled, and runs again
        after the next reconnect.
        """
        resumed = self._ever_connected
        self._ever_connected = True
        self._link = link
        link.open = True
        link.start_watching(self._options.liveness)
        self._established_at = self._clock()
        self.connects += 1
        self._notify()
        hook: asyncio.Task[None] | None = None
        if resumed:
            self.reconnects += 1
            log.info("%s socket: reconnected (#%d)", self.name, self.reconnects)
            if self.on_reconnected is not None:
                hook = asyncio.get_running_loop().create_task(
                    self._run_reconnected_hook(self.on_reconnected), name=f"lb-{self.name}-resync"
                )
        try:
            await link.closed.wait()
        finally:
            if hook is not None:
                hook.cancel()
                await asyncio.gather(hook, return_exceptions=True)
        self._link = None
        self._last_error = link.error or "connection closed"
        log.warning("%s socket: connection lost: %s", self.name, self._last_error)
        self._notify()
        await link.discard()

    async def _run_reconnected_hook(self, hook: ReconnectedHook) -> None:
        try:
            await hook()
        except OpenApiException as exc:  # e.g. the link dropped again meanwhile
            log.warning("%s socket: after-reconnect hook failed: %s", self.name, exc)
        except Exception:  # a caller's bug must not take the socket down
            log.exception("%s socket: after-reconnect hook raised", self.name)

    def _session_valid(self) -> Session | None:
        session = self._session
        if session is None or session.expired(self._clock()):
            return None
        return session

    def _check_otp_budget(self) -> None:
        wait = self.otp_budget.wait_time()
        if wait > 0:
            raise OtpBudgetExhausted(
                f"the {self.name} socket used its OTP budget "
                f"({self.otp_budget.limit} per {self.otp_budget.window:g} s); "
                f"next attempt in {wait:.0f} s",
                retry_after_s=wait,
            )

    async def _establish(self) -> Link:
        session = self._session_valid()
        if session is None:
            self._check_otp_budget()
        link = await Link.open_link(self._url, self._headers, self.name, self._on_push)
        try:
            authenticated = False
            if session is not None:
                response = await link.call(
                    ControlCommand.RECONNECT,
                    encode_reconnect_request(session.session_id, self._metadata),
                    AUTH_TIMEOUT_S,
                )
                if response.ok:
                    self._session = self._read_session(response.body)
                    authenticated = True
                else:
                    self._session = None
                    if response.status != Status.UNAUTHENTICATED:
                        raise response_error(_as_response(response))
                    log.info("%s socket: session gone, authenticating afresh", self.name)
                    self._check_otp_budget()
            if not authenticated:
                self.otp_budget.spend()
                token = await self._otp()
                response = await link.call(
                    ControlCommand.AUTH,
                    encode_auth_request(token, self._metadata),
                    AUTH_TIMEOUT_S,
                )
                if not response.ok:
                    raise _auth_error(response)
                self._session = self._read_session(response.body)
            self._auth_failures = 0
            if self._post_auth is not None and not self._post_auth_done:
                await self._post_auth(lambda cmd, body: self._call_ok(link, cmd, body))
                self._post_auth_done = True
        except BaseException:
            await link.discard()
            raise
        return link

    def _read_session(self, body: bytes) -> Session:
        session = decode_session(body)
        now_ms = int(self._clock() * 1000)
        if 0 < session.expires_ms < 1_000_000_000_000:
            # Relative milliseconds (how the Rust SDK reads ReconnectResponse): make absolute.
            session = Session(
                session.session_id, now_ms + session.expires_ms, session.limit, session.online
            )
        return session

    async def _call_ok(self, link: Link, cmd: int, body: bytes) -> bytes:
        response = await link.call(cmd, body, self._options.request_timeout)
        if not response.ok:
            raise response_error(_as_response(response))
        return response.body


def _as_response(event: ResponseReceived) -> Response:
    return Response(event.cmd, event.request_id, event.status, event.body)


def _auth_error(response: ResponseReceived) -> OpenApiException:
    """A refused AUTH: status 5/6 always counts as an auth failure, whatever the code."""
    error = response_error(_as_response(response))
    if response.status in (Status.UNAUTHENTICATED, Status.PERMISSION_DENIED) and not isinstance(
        error, AuthError
    ):
        return AuthError(error.message or "authentication refused", code=error.code)
    return error


__all__ = [
    "TOKEN_PATH",
    "Call",
    "ConnectionLimitError",
    "ConnectionLost",
    "ConnectionState",
    "Liveness",
    "OtpBudgetExhausted",
    "OtpSource",
    "PostAuthHook",
    "PushHandler",
    "WsOptions",
    "WsSession",
    "fetch_otp",
]
