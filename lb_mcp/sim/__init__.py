"""An embedded, seeded Longbridge-compatible exchange for demos and tests.

::

    async with Simulator(tick=False, clock=lambda: 1_763_000_000.0) as sim:
        ctx = TradeContext(sim.config)          # our SDK, or the official one, pointed at the sim
        sim.market.step()                        # advance prices deterministically
        sim.ledger.orders()                      # the simulator's true order list

Without ``async with`` the market, ledger and broker work as plain objects (no network).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import socket
import time
from collections.abc import Callable, Iterator
from types import TracebackType

import uvicorn

from lb_mcp.sdk.config import Config
from lb_mcp.sim.exchange.ledger import Ledger
from lb_mcp.sim.exchange.matching import Broker
from lb_mcp.sim.exchange.seeding import seed_account
from lb_mcp.sim.market.model import MarketModel
from lb_mcp.sim.market.sessions import Hours
from lb_mcp.sim.market.universe import UNIVERSE
from lb_mcp.sim.oauth import AuthServer, legacy_token_routes, oauth_admin_routes, oauth_routes
from lb_mcp.sim.wire.admin import admin_routes
from lb_mcp.sim.wire.http_app import ApiState, build_app
from lb_mcp.sim.wire.ratelimit import SlidingWindowLimiter
from lb_mcp.sim.wire.routes import ROUTES
from lb_mcp.sim.wire.sockets import WsServers, start_ws_servers
from lb_mcp.sim.wire.ws_server import Faults, require_loopback

log = logging.getLogger("lb_mcp.sim")


class _QuietServer(uvicorn.Server):
    """uvicorn without its signal handlers: the host process owns SIGINT/SIGTERM."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def _credential(seed: int, name: str) -> str:
    # Never starts with "us_": the official SDK would treat the account as US data-centre.
    return f"sim_{name}_" + hashlib.sha256(f"lb-mcp-sim|{seed}|{name}".encode()).hexdigest()[:24]


class Simulator:
    def __init__(
        self,
        *,
        seed: int = 7,
        hours: str = "always",
        host: str = "127.0.0.1",
        port: int = 0,
        push_rate: float = 2.0,
        clock: Callable[[], float] | None = None,
        tick: bool = True,
        universe: str | None = None,
    ) -> None:
        if universe:  # a user's instruments, added to (or replacing) the built-in ones
            UNIVERSE.extend_from(universe)
        self.seed = seed
        self.hours = Hours(hours)
        self.host = host
        self.port = port
        self.push_rate = push_rate
        self.clock: Callable[[], float] = clock or time.time
        self.tick = tick
        self.app_key = _credential(seed, "appkey")
        self.app_secret = _credential(seed, "secret")
        self.access_token = _credential(seed, "token")
        self.oauth_token = _credential(seed, "oauth")
        self.market = MarketModel(seed=seed, hours=self.hours, clock=self.clock)
        self.ledger = Ledger(clock=self.clock, account_no=f"LB{seed:08d}")
        self.broker = Broker(self.market, self.ledger, clock=self.clock)
        seed_account(self.ledger, self.broker.ids, self.clock())
        self.api = ApiState(
            app_key=self.app_key,
            app_secret=self.app_secret,
            access_token=self.access_token,
            oauth_token=self.oauth_token,
            market=self.market,
            ledger=self.ledger,
            broker=self.broker,
            clock=self.clock,
            limiter=SlidingWindowLimiter(clock=self.clock),
        )
        self.oauth_client_id = _credential(seed, "client")
        self.oauth = AuthServer(self.oauth_client_id, clock=self.clock)
        self.api.bearer_valid = self.oauth.valid_access
        self.faults = Faults()  # protocol faults of the sockets (test hooks)
        self.api.revoked = self.faults.plan.revoked_error
        self.app = build_app(
            self.api,
            {
                **ROUTES,
                **admin_routes(self),
                **oauth_admin_routes(self.oauth),
                **legacy_token_routes(),
            },
            outside=oauth_routes(self.oauth),
        )
        self.http_url = ""
        self.quote_ws_url = ""
        self.trade_ws_url = ""
        self._http: _QuietServer | None = None
        self._http_task: asyncio.Task[None] | None = None
        self._ws: WsServers | None = None
        self._ticker: asyncio.Task[None] | None = None

    def __repr__(self) -> str:
        return f"Simulator(seed={self.seed}, hours={self.hours.value}, http_url={self.http_url!r})"

    # ----------------------------------------------------------------- credentials

    @property
    def config(self) -> Config:
        """An SDK config pointing at this simulator (requires the servers to be running)."""
        if not self.http_url:
            raise RuntimeError("the simulator is not running; use `async with Simulator()`")
        return Config.from_apikey(
            self.app_key,
            self.app_secret,
            self.access_token,
            http_url=self.http_url,
            quote_ws_url=self.quote_ws_url,
            trade_ws_url=self.trade_ws_url,
            enable_print_quote_packages=False,
            env={},
        )

    @property
    def oauth_url(self) -> str:
        """The OAuth base of the simulator's authorization server (``LONGBRIDGE_OAUTH_URL``)."""
        if not self.http_url:
            raise RuntimeError("the simulator is not running; use `async with Simulator()`")
        return self.http_url + "/oauth2"

    def env_lines(self) -> list[str]:
        return [
            f"LONGBRIDGE_HTTP_URL={self.http_url}",
            f"LONGBRIDGE_QUOTE_WS_URL={self.quote_ws_url}",
            f"LONGBRIDGE_TRADE_WS_URL={self.trade_ws_url}",
            f"LONGBRIDGE_APP_KEY={self.app_key}",
            f"LONGBRIDGE_APP_SECRET={self.app_secret}",
            f"LONGBRIDGE_ACCESS_TOKEN={self.access_token}",
        ]

    def consume_otp(self, otp: str) -> bool:
        """True once for each OTP issued by ``GET /v1/socket/token``."""
        return self.api.consume_otp(otp)

    # ----------------------------------------------------------------- socket test hooks

    @property
    def ws_servers(self) -> WsServers:
        if self._ws is None:
            raise RuntimeError("the simulator is not running; use `async with Simulator()`")
        return self._ws

    async def drop_quote_connections(self) -> int:
        """Hang up every quote socket (no closing handshake); returns how many."""
        return await self.ws_servers.quote.drop_connections()

    async def drop_trade_connections(self) -> int:
        """Hang up every trade socket (no closing handshake); returns how many."""
        return await self.ws_servers.trade.drop_connections()

    async def flood(self, symbols: int, seconds: float) -> int:
        """Benchmark only: PushQuote as fast as the sockets drain (see QuoteServer.flood)."""
        return await self.ws_servers.quote.flood(symbols, seconds)

    # ----------------------------------------------------------------- life cycle

    async def __aenter__(self) -> Simulator:
        try:
            await self._start()
        except BaseException:
            await self.aclose()
            raise
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def _start(self) -> None:
        require_loopback(self.host)
        # IPPROTO_TCP explicitly: asyncio only sets TCP_NODELAY on sockets that say so, and
        # without it every response waits ~40 ms (Nagle + delayed ACK).
        family, kind, proto, _, address = socket.getaddrinfo(
            self.host, self.port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP
        )[0]
        sock = socket.socket(family, kind, proto)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind(address)
            sock.listen(128)
            sock.setblocking(False)
        except OSError:
            sock.close()
            raise
        port = sock.getsockname()[1]
        config = uvicorn.Config(
            self.app,
            lifespan="off",
            ws="none",
            log_config=None,
            log_level="warning",
            access_log=False,
            timeout_graceful_shutdown=1,
        )
        self._http = _QuietServer(config)
        self._http_task = asyncio.create_task(self._http.serve(sockets=[sock]))
        while not self._http.started:
            if self._http_task.done():
                self._http_task.result()  # re-raise the start-up failure
                raise RuntimeError("HTTP server stopped during start-up")
            await asyncio.sleep(0.005)
        host = f"[{self.host}]" if ":" in self.host else self.host
        self.http_url = f"http://{host}:{port}"
        self._ws = ws = await start_ws_servers(self, self.host, self.faults)
        self.api.online = lambda: ws.online
        self.quote_ws_url = f"ws://{host}:{ws.quote.port}/v2"
        self.trade_ws_url = f"ws://{host}:{ws.trade.port}/v2"
        if self.tick and self.push_rate > 0:
            self._ticker = asyncio.create_task(self._tick_forever())

    async def _tick_forever(self) -> None:
        # A fixed cadence (not sleep-after-step), so a step of many symbols does not slow the
        # push rate; a tick that is late by a whole interval is skipped rather than bunched.
        interval = 1.0 / self.push_rate
        loop = asyncio.get_running_loop()
        due = loop.time()
        while True:
            due += interval
            now = loop.time()
            if due < now - interval:
                due = now
            await asyncio.sleep(max(0.0, due - now))
            try:
                self.market.step()
            except Exception:
                log.exception("market step failed")

    async def aclose(self) -> None:
        if self._ticker is not None:
            self._ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._ticker
            self._ticker = None
        if self._ws is not None:
            await self._ws.close()
            self._ws = None
        if self._http is not None and self._http_task is not None:
            self._http.should_exit = True
            await self._http_task
            self._http = self._http_task = None
        self.http_url = self.quote_ws_url = self.trade_ws_url = ""


__all__ = ["Simulator"]
